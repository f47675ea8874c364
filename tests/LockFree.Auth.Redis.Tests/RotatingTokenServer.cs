namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// A token endpoint with rotating refresh tokens and reuse detection: each exchange returns a new access token and a
/// new refresh token and makes the previous refresh token invalid; presenting any refresh token other than the
/// current one is a reuse (counted, and rejected with invalid_grant). A first grant presents no refresh token.
/// </summary>
internal sealed class RotatingTokenServer(TimeProvider time, TimeSpan lifetime, TimeSpan? latency = null)
{
    private readonly object _gate = new();
    private readonly List<string?> _presented = [];
    private int _exchanges;
    private int _reuses;
    private int _issued;
    private string? _current;

    /// <summary>Exchanges started (on the wire).</summary>
    public int Exchanges => Volatile.Read(ref _exchanges);

    /// <summary>Refresh tokens presented after they had been rotated away.</summary>
    public int Reuses => Volatile.Read(ref _reuses);

    /// <summary>The refresh token each exchange presented (null for a first grant), in order.</summary>
    public IReadOnlyList<string?> Presented { get { lock (_gate) { return [.. _presented]; } } }

    /// <summary>Held open by a test to keep an exchange in flight; completed by default.</summary>
    public TaskCompletionSource Gate { get; set; } = Completed();

    public async Task<TokenContainer> ExchangeAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _exchanges);
        await Gate.Task.WaitAsync(cancellationToken);
        await Task.Delay(latency ?? TimeSpan.FromMilliseconds(30), cancellationToken);
        lock (_gate)
        {
            var presented = context.Previous?.RefreshToken;
            _presented.Add(presented);
            if (presented is not null && presented != _current)
            {
                _reuses++;
                throw new OAuthException("invalid_grant: refresh token reused");
            }

            var n = ++_issued;
            _current = $"rt-{n}-{Guid.NewGuid():N}";
            return new TokenContainer
            {
                AccessToken = $"at-{n}-{Guid.NewGuid():N}",
                RefreshToken = _current,
                Issuer = "https://as.example/",
                Scope = "mcp",
                ObtainedAt = time.GetUtcNow(),
                ExpiresIn = lifetime,
            };
        }
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }
}
