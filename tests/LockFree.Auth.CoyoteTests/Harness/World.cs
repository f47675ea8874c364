using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Harness;

/// <summary>
/// One scenario's world: a controlled clock, a fake token server and a coordinator over them, plus the checks every
/// scenario applies to what callers observe (no torn reads, every served token issued by exactly one request).
/// </summary>
internal sealed class World : IAsyncDisposable
{
    public static readonly AuthCoordinatorOptions Options = new()
    {
        SkewMargin = TimeSpan.FromSeconds(10),
        MaxSkewFraction = 0.1,
        RefreshAheadWindow = TimeSpan.FromSeconds(20),
        MaxRefreshAheadFraction = 0.2,
        RefreshRetryDelay = TimeSpan.FromSeconds(5),
        Name = "coyote",
    };

    /// <summary>A world over the real coordinator (or over what <paramref name="create"/> builds: seeded-bug variants).</summary>
    public World(TimeSpan? lifetime = null, Func<World, ITokenCoordinator>? create = null)
    {
        Clock = new ControlledClock();
        Server = new TokenServer(Clock, lifetime);
        Coordinator = create is null
            ? new RealCoordinator(new AuthCoordinator<TokenContainer>(Server.AcquireAsync, static t => t.ExpiresAt, Clock, Options))
            : create(this);
    }

    public ControlledClock Clock { get; }
    public TokenServer Server { get; }
    public ITokenCoordinator Coordinator { get; }

    /// <summary>Reads the state once and checks it: snapshot invariants, and a cached token belongs to the generation that issued it.</summary>
    public SnapshotView Observe()
    {
        var snapshot = Coordinator.Inspect();
        CheckSnapshot(snapshot, Server);
        return snapshot;
    }

    public static void CheckSnapshot(SnapshotView snapshot, TokenServer server)
    {
        Specification.Assert(snapshot.Violation is null, $"Torn or invalid snapshot: {snapshot.Violation} ({snapshot.Text})");
        if (snapshot.Value is { } value)
        {
            var issuer = server.IssuerOf(value);
            Specification.Assert(issuer is not null, $"Cached token {value.AccessToken} was not issued by any request.");
            Specification.Assert(
                issuer!.Context.Generation == snapshot.ValueGeneration,
                $"Cached token {value.AccessToken} came from generation {issuer.Context.Generation} but the snapshot says {snapshot.ValueGeneration}.");
        }
    }

    /// <summary>Checks a token a caller received: issued by exactly one request of this world's server.</summary>
    public TokenContainer CheckServed(TokenContainer token)
    {
        var issuers = Server.Requests.Count(r => ReferenceEquals(r.Issued, token));
        Specification.Assert(issuers == 1, $"Served token {token.AccessToken} was issued by {issuers} requests (expected exactly one).");
        return token;
    }

    /// <summary>Awaits a caller's result as an outcome instead of an exception.</summary>
    public static async Task<Outcome> Capture(Task<TokenContainer> call)
    {
        try
        {
            return new Outcome(await call, null);
        }
        catch (Exception ex)
        {
            return new Outcome(null, ex);
        }
    }

    /// <summary>
    /// The end of every scenario: disposes the coordinator (cancelling the work in flight) and drains the server, so
    /// no task, response or continuation the scenario started outlives its iteration.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Coordinator.Dispose();
        await Server.DrainAsync();
    }
}

internal readonly record struct Outcome(TokenContainer? Token, Exception? Error)
{
    public bool Cancelled => Error is OperationCanceledException;
}

/// <summary>What the scenarios need from a coordinator: the real one, or a seeded-bug variant of its algorithm.</summary>
internal interface ITokenCoordinator : IDisposable
{
    Task<TokenContainer> GetAsync(CancellationToken cancellationToken = default);

    void Invalidate();

    bool Invalidate<TArg>(Func<TokenContainer, TArg, bool> isRejected, TArg argument);

    /// <summary>One read of the state, checked against the snapshot invariants.</summary>
    SnapshotView Inspect();
}

/// <summary>One observed state: its invariant violation (null: none), cached value and the generation that produced it.</summary>
internal sealed record SnapshotView(string? Violation, TokenContainer? Value, long ValueGeneration, bool IsAcquiring, string Text);

/// <summary>The real <see cref="AuthCoordinator{T}"/>, unchanged.</summary>
internal sealed class RealCoordinator(AuthCoordinator<TokenContainer> inner) : ITokenCoordinator
{
    public AuthCoordinator<TokenContainer> Inner { get; } = inner;

    public Task<TokenContainer> GetAsync(CancellationToken cancellationToken = default) => Inner.GetAsync(cancellationToken);

    public void Invalidate() => Inner.Invalidate();

    public bool Invalidate<TArg>(Func<TokenContainer, TArg, bool> isRejected, TArg argument) => Inner.Invalidate(isRejected, argument);

    public SnapshotView Inspect()
    {
        var s = Inner.Current; // one read: everything below comes from this snapshot
        return new SnapshotView(s.FindInvariantViolation(), s.Value, s.ValueGeneration, s.IsAcquiring, s.ToString());
    }

    public void Dispose() => Inner.Dispose();
}
