using LockFree.Auth.Diagnostics;

namespace LockFree.Auth;

/// <summary>
/// Wraps a coordinator's acquisition (a token exchange) so that replicas of one client identity share one token set
/// through an <see cref="ISharedTokenStore"/>: adopt a newer token another replica published, else take the lease at
/// the record's version, exchange with the refresh token <em>of that version</em> and publish with the version as the
/// fence; if another replica holds the lease, wait for its notification (bounded) and adopt (<c>spec/distributed.md</c>).
/// </summary>
/// <remarks>
/// <para>
/// Use <see cref="AcquireAsync"/> as the coordinator's acquisition delegate:
/// <c>new AuthCoordinator&lt;TokenContainer&gt;(shared.AcquireAsync, t =&gt; t.ExpiresAt)</c>. The coordinator still
/// serves a cached token with one volatile read (no I/O) and still coalesces the callers of one process into one
/// acquisition; the store is consulted only inside that acquisition. After a 401 for token T, call
/// <see cref="InvalidateIfAsync"/> besides the coordinator's own conditional invalidation.
/// </para>
/// <para>
/// When the store fails, <see cref="SharedTokenOptions.FailureMode"/> decides: exchange anyway with per-process
/// coalescing (a warning, the <c>lockfree.auth.shared.store_failures</c> metric), or fail with
/// <see cref="SharedTokenStoreUnavailableException"/>. A degraded exchange never presents a refresh token that came
/// through the store (other replicas may hold it; presenting it twice revokes the chain): it uses the configured grant.
/// The store is tried again on every acquisition, so recovery is
/// automatic. A token set that was exchanged is always returned, even if publishing it failed (its refresh token was
/// already spent).
/// </para>
/// <para>
/// Concurrency: safe to use from any number of coordinators and threads; it has no mutable state besides a
/// health flag (written with <see cref="Interlocked.Exchange(ref int, int)"/> only to log transitions). The
/// acquisition's <see cref="CancellationToken"/> (the coordinator's own, never a caller's) cancels store reads,
/// waits and the exchange, never a publication of an exchanged token.
/// </para>
/// </remarks>
public sealed class SharedTokenAcquisition
{
    private readonly SharedRecordAcquisition<TokenContainer> _core;

    /// <summary>Creates the wrapper of one key's acquisition.</summary>
    /// <param name="store">The shared store (for example <c>RedisSharedTokenStore</c>).</param>
    /// <param name="key">The record's key: one per client identity and token audience (the store adds its own prefix).</param>
    /// <param name="exchange">The token exchange; its context's <see cref="AcquisitionContext{T}.Previous"/> is the shared record's token set at the lease's version when there is one.</param>
    /// <param name="options">Protection, lease, waits and failure mode; validated and copied.</param>
    /// <param name="timeProvider">The clock for adoption decisions and bounded waits; <see cref="TimeProvider.System"/> when omitted.</param>
    public SharedTokenAcquisition(
        ISharedTokenStore store,
        string key,
        Func<AcquisitionContext<TokenContainer>, CancellationToken, Task<TokenContainer>> exchange,
        SharedTokenOptions options,
        TimeProvider? timeProvider = null)
        : this(store, key, exchange, options, timeProvider, accepts: null, health: null, instruments: null)
    {
    }

    /// <summary>
    /// The providers' constructor: <paramref name="accepts"/> is their issuer binding (T3/T5 of <c>spec/security.md</c>):
    /// a shared token set it refuses is treated like a restored token of an issuer the provider may not use — never
    /// adopted, and its refresh token never sent. <paramref name="instruments"/> are the provider's (its container's meter; the static meter's when null).
    /// <paramref name="health"/> is shared by every acquisition of one
    /// <see cref="TokenSharing"/> (the providers create one wrapper per acquisition), so the warning and the recovery
    /// message are written once per outage, not once per acquisition; its own when omitted.
    /// </summary>
    internal SharedTokenAcquisition(
        ISharedTokenStore store,
        string key,
        Func<AcquisitionContext<TokenContainer>, CancellationToken, Task<TokenContainer>> exchange,
        SharedTokenOptions options,
        TimeProvider? timeProvider,
        Func<TokenContainer, bool>? accepts,
        StoreHealth? health,
        AuthInstruments? instruments)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _core = new SharedRecordAcquisition<TokenContainer>(
            store, key, exchange, options.Copy(), TokenCodec.Instance, timeProvider ?? TimeProvider.System, accepts, health ?? new StoreHealth(),
            instruments: instruments);
    }

    /// <summary>
    /// The holder ids of this wrapper's acquisitions (<see cref="SharedRecordAcquisition{T}.NewHolder"/>): an internal seam
    /// only for the Coyote scenarios, never set by the product. Set once, at creation.
    /// </summary>
    internal Func<string> NewHolder
    {
        get => _core.NewHolder;
        init => _core.NewHolder = value;
    }

    /// <summary>The acquisition delegate for an <see cref="AuthCoordinator{T}"/> of <see cref="TokenContainer"/>.</summary>
    public Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken) =>
        _core.AcquireAsync(context, cancellationToken);

    /// <summary>
    /// After the resource rejected <paramref name="rejected"/>: retires the shared record only if it still holds that
    /// access token (compare by fingerprint, in one atomic step), and wakes the waiting replicas. Never throws for a
    /// store failure: it is logged and counted, and <see langword="false"/> is returned.
    /// </summary>
    /// <returns><see langword="true"/> if the shared record was retired by this call.</returns>
    public Task<bool> InvalidateIfAsync(TokenContainer rejected, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rejected);
        return _core.InvalidateIfAsync(SharedTokenPayload.Fingerprint(rejected.AccessToken), cancellationToken);
    }

    /// <summary>
    /// <see cref="InvalidateIfAsync"/> for a provider that does not wait for it (a 401's retry does not depend on it):
    /// on <see cref="CancellationToken.None"/>, never a caller's, and every failure is observed and logged (5010).
    /// </summary>
    internal Task InvalidateInBackgroundAsync(TokenContainer rejected) =>
        _core.InvalidateInBackgroundAsync(SharedTokenPayload.Fingerprint(rejected.AccessToken));

    /// <summary>
    /// Usable with the core's default skew: until <c>E − min(30 s, 10 % of the lifetime)</c>, so an adopted token is
    /// not one the coordinator would at once consider expired.
    /// </summary>
    internal static bool IsUsable(TokenContainer token, DateTimeOffset now)
    {
        if (token.ExpiresAt is not { } expiresAt || token.ExpiresIn is not { } lifetime)
        {
            return true;
        }

        var skew = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(30).Ticks, lifetime.Ticks / 10));
        return now < expiresAt - skew;
    }

    /// <summary>The store's health as the log sees it, shared by every acquisition of one <see cref="TokenSharing"/>.</summary>
    internal sealed class StoreHealth
    {
        // 0 = the last store operation succeeded, 1 = it failed. Interlocked.Exchange only, so that the warning and the
        // recovery message are written once per transition; no decision depends on it.
        internal int Unavailable;
    }

    /// <summary>A token set in a shared record: <see cref="SharedTokenPayload"/>, fingerprinted by its access token.</summary>
    private sealed class TokenCodec : ISharedRecordCodec<TokenContainer>
    {
        internal static readonly TokenCodec Instance = new();

        public byte[] Serialize(TokenContainer value) => SharedTokenPayload.Serialize(value);

        public TokenContainer Deserialize(ReadOnlySpan<byte> utf8) => SharedTokenPayload.Deserialize(utf8);

        public string Fingerprint(TokenContainer value) => SharedTokenPayload.Fingerprint(value.AccessToken);

        public DateTimeOffset? ExpiresAt(TokenContainer value) => value.ExpiresAt;

        public bool IsUsable(TokenContainer value, DateTimeOffset now) => SharedTokenAcquisition.IsUsable(value, now);

        public TokenContainer MarkShared(TokenContainer value) => value.IsShared ? value : value with { IsShared = true };

        public TokenContainer? WithoutSharedSecrets(TokenContainer previous) =>
            previous is { IsShared: true, RefreshToken: not null } ? previous with { RefreshToken = null } : null;
    }
}
