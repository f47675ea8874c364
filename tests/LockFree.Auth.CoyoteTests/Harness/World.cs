using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Harness;

/// <summary>
/// One scenario's world: a controlled clock, a fake token server and a coordinator over them, plus the checks every
/// scenario applies to what callers observe (no torn reads, every served token issued by exactly one request).
/// </summary>
internal sealed class World : IDisposable
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

    public World(TimeSpan? lifetime = null, Func<World, AuthCoordinator<TokenContainer>>? create = null)
    {
        Clock = new ControlledClock();
        Server = new TokenServer(Clock, lifetime);
        Coordinator = create is null
            ? new AuthCoordinator<TokenContainer>(Server.AcquireAsync, static t => t.ExpiresAt, Clock, Options)
            : create(this);
    }

    public ControlledClock Clock { get; }
    public TokenServer Server { get; }
    public AuthCoordinator<TokenContainer> Coordinator { get; }

    /// <summary>Reads the state once and checks it: snapshot invariants, and a cached token belongs to the generation that issued it.</summary>
    public AuthSnapshot<TokenContainer> Observe()
    {
        var snapshot = Coordinator.Current;
        CheckSnapshot(snapshot, Server);
        return snapshot;
    }

    public static void CheckSnapshot(AuthSnapshot<TokenContainer> snapshot, TokenServer server)
    {
        var violation = snapshot.FindInvariantViolation();
        Specification.Assert(violation is null, $"Torn or invalid snapshot: {violation} ({snapshot})");
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

    public void Dispose() => Coordinator.Dispose();
}

internal readonly record struct Outcome(TokenContainer? Token, Exception? Error)
{
    public bool Cancelled => Error is OperationCanceledException;
}
