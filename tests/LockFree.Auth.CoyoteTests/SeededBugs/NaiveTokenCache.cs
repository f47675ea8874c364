using LockFree.Auth.CoyoteTests.Harness;

namespace LockFree.Auth.CoyoteTests.SeededBugs;

/// <summary>
/// Seeded bug "the pre-fix naive cache": the unsynchronized check-then-acquire of the seed issue
/// (<c>if (_token is null) _token = await Exchange()</c>). Concurrent cold callers each start an exchange and may get
/// different tokens.
/// </summary>
internal sealed class NaiveTokenCache(TokenServer server) : ITokenCoordinator
{
    private TokenContainer? _token;

    public async Task<TokenContainer> GetAsync(CancellationToken cancellationToken = default)
    {
        // SEEDED BUG: an unsynchronized field; every caller that sees null starts its own exchange.
        if (_token is null)
        {
            _token = await server.AcquireAsync(new AcquisitionContext<TokenContainer>(null, 1, false), cancellationToken);
        }

        return _token;
    }

    public void Invalidate() => _token = null;

    public bool Invalidate<TArg>(Func<TokenContainer, TArg, bool> isRejected, TArg argument)
    {
        if (_token is { } t && isRejected(t, argument))
        {
            _token = null;
            return true;
        }

        return false;
    }

    public SnapshotView Inspect() => new(null, _token, 1, false, "naive");

    public void Dispose()
    {
    }
}
