using System.Globalization;
using LockFree.Auth.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LockFree.Auth;

/// <summary>
/// Wraps a coordinator's acquisition (a token exchange) so that replicas of one client identity share one token set
/// through an <see cref="ISharedTokenStore"/>: adopt a newer token another replica published, else take the lease at
/// the record's version, exchange with the refresh token <em>of that version</em> and publish with the version as the
/// fence; if another replica holds the lease, wait for its notification (bounded) and adopt (<c>spec/redis.md</c>).
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
    private readonly ISharedTokenStore _store;
    private readonly string _key;
    private readonly Func<AcquisitionContext<TokenContainer>, CancellationToken, Task<TokenContainer>> _exchange;
    private readonly SharedTokenOptions _options;
    private readonly ISharedTokenProtector _protector;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly KeyValuePair<string, object?> _tag;

    /// <summary>
    /// Whether the last store operation failed, shared by every acquisition of one <see cref="TokenSharing"/> (the
    /// providers create one wrapper per acquisition), so the warning and the recovery message are written once per
    /// outage, not once per acquisition. Its own by default.
    /// </summary>
    internal StoreHealth Health { get; init; } = new();

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
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _store = store;
        _key = key;
        _exchange = exchange;
        _options = options.Copy();
        _protector = _options.Protector ?? SharedTokenPayload.PlainText.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _logger = _options.LoggerFactory?.CreateLogger("LockFree.Auth.SharedTokenAcquisition") ?? NullLogger.Instance;
        _tag = new KeyValuePair<string, object?>(AuthMetrics.CoordinatorTag, _options.Name);
    }

    /// <summary>
    /// The providers' issuer binding (T3/T5 of <c>spec/security.md</c>): a shared token set it refuses is treated like a
    /// restored token of an issuer the provider may not use — never adopted, and its refresh token never sent.
    /// </summary>
    internal Func<TokenContainer, bool>? Accepts { get; init; }

    /// <summary>The acquisition delegate for an <see cref="AuthCoordinator{T}"/> of <see cref="TokenContainer"/>.</summary>
    public async Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        try
        {
            return await AcquireSharedAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (SharedTokenStoreUnavailableException exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Thrown only before an exchange started (see ExchangeAndPublishAsync): nothing was spent yet.
            ReportUnavailable(exception);
            if (_options.FailureMode == SharedStoreFailureMode.FailClosed)
            {
                throw;
            }

            // Degrade: this process's coordinator still coalesces its callers into this one exchange. A refresh token that
            // came through the store may be held by every replica; without the lease two of them would present it, and
            // reuse detection revokes the whole chain. So it is withheld: the exchange uses the configured grant
            // (client credentials, jwt-bearer; an authorization-code client must sign in again). A token set this
            // process obtained while degraded is its own, so its refresh token is used (spec/redis.md, R18).
            return await _exchange(WithoutSharedRefreshToken(context), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The degraded exchange's context: <see cref="AcquisitionContext{T}.Previous"/> without a refresh token that came through the store.</summary>
    private AcquisitionContext<TokenContainer> WithoutSharedRefreshToken(AcquisitionContext<TokenContainer> context)
    {
        if (context.Previous is not { IsShared: true, RefreshToken: not null } previous)
        {
            return context;
        }

        Log.Sharing.SharedRefreshTokenWithheld(_logger, _options.Name);
        return context with { Previous = previous with { RefreshToken = null } };
    }

    /// <summary>
    /// After the resource rejected <paramref name="rejected"/>: retires the shared record only if it still holds that
    /// access token (compare by fingerprint, in one atomic step), and wakes the waiting replicas. Never throws for a
    /// store failure: it is logged and counted, and <see langword="false"/> is returned.
    /// </summary>
    /// <returns><see langword="true"/> if the shared record was retired by this call.</returns>
    public async Task<bool> InvalidateIfAsync(TokenContainer rejected, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rejected);
        try
        {
            var retired = await StoreAsync(
                static (s, a, ct) => s._store.InvalidateIfAsync(s._key, a, ct),
                SharedTokenPayload.Fingerprint(rejected.AccessToken),
                cancellationToken).ConfigureAwait(false);
            Log.Sharing.Invalidated(_logger, _options.Name, retired);
            return retired;
        }
        catch (SharedTokenStoreUnavailableException exception) when (!cancellationToken.IsCancellationRequested)
        {
            ReportUnavailable(exception);
            return false;
        }
    }

    /// <summary>
    /// <see cref="InvalidateIfAsync"/> for a provider that does not wait for it (a 401's retry does not depend on it):
    /// on <see cref="CancellationToken.None"/>, never a caller's, and every failure is observed and logged (5010).
    /// </summary>
    internal async Task InvalidateInBackgroundAsync(TokenContainer rejected)
    {
        try
        {
            // Off the caller's path: the rejected request's retry goes on at once.
            await Task.Yield();
            await InvalidateIfAsync(rejected, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Log.Sharing.InvalidationFailed(_logger, _options.Name, exception.GetType());
        }
    }

    private async Task<TokenContainer> AcquireSharedAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        // A holder per acquisition, not per process: after an invalidation, a second acquisition of the same coordinator
        // may run beside the first, and it must not renew the first one's lease.
        var holder = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        var previousFingerprint = context.Previous is { } previous ? SharedTokenPayload.Fingerprint(previous.AccessToken) : null;
        var deadline = _time.GetUtcNow() + _options.MaxWait;
        while (true)
        {
            var record = await StoreAsync(static (s, _, ct) => s._store.ReadAsync(s._key, ct), 0, cancellationToken).ConfigureAwait(false);
            if (record is not null && TryAdopt(record, previousFingerprint) is { } adopted)
            {
                AuthMetrics.SharedAdopted.Add(1, _tag);
                Log.Sharing.Adopted(_logger, _options.Name, record.Version);
                return adopted;
            }

            var version = record?.Version ?? 0;
            var lease = await StoreAsync(
                static (s, a, ct) => s._store.TryAcquireLeaseAsync(s._key, a.version, a.holder, s._options.LeaseTimeToLive, ct),
                (version, holder),
                cancellationToken).ConfigureAwait(false);
            switch (lease.Status)
            {
                case SharedLeaseStatus.Granted:
                    Log.Sharing.LeaseGranted(_logger, _options.Name, lease.Version);
                    return await ExchangeAndPublishAsync(context, record, lease, cancellationToken).ConfigureAwait(false);

                case SharedLeaseStatus.Stale:
                    // Another replica published (or the record expired) between the read and the lease: re-read.
                    continue;

                default:
                    if (_time.GetUtcNow() >= deadline)
                    {
                        throw new SharedTokenStoreUnavailableException(
                            $"No shared token was published within SharedTokenOptions.MaxWait ({_options.MaxWait}) while other replicas held the lease.");
                    }

                    // Woken by the holder's notification; the bound is the fallback re-read (a lost notification, a
                    // crashed holder whose lease expires).
                    var bound = lease.Remaining < _options.FallbackReadInterval ? lease.Remaining + TimeSpan.FromMilliseconds(1) : _options.FallbackReadInterval;
                    Log.Sharing.Waiting(_logger, _options.Name, lease.Version, (long)bound.TotalMilliseconds);
                    await StoreAsync(
                        static async (s, a, ct) => { await s._store.WaitForChangeAsync(s._key, a.version, a.bound, ct).ConfigureAwait(false); return 0; },
                        (version, bound),
                        cancellationToken).ConfigureAwait(false);
                    continue;
            }
        }
    }

    private async Task<TokenContainer> ExchangeAndPublishAsync(
        AcquisitionContext<TokenContainer> context, SharedTokenRecord? record, SharedLease lease, CancellationToken cancellationToken)
    {
        // The refresh token of the fenced version: the record's token set if there is one (retired or not), else the
        // coordinator's own previous value (a first exchange, or a token restored from a local cache).
        TokenContainer value;
        try
        {
            var atFence = record is null ? context.Previous : Unprotect(record);
            if (atFence is not null && !IsAccepted(atFence))
            {
                atFence = context.Previous;
            }

            // Marked shared before publication: even a publication that seems to fail may have reached the store.
            value = (await _exchange(context with { Previous = atFence }, cancellationToken).ConfigureAwait(false)) with { IsShared = true };
        }
        catch (Exception)
        {
            // Nothing was exchanged or published: let the next replica take the lease now rather than after its expiry.
            // Best effort (a failure here must not hide the exchange's own); CancellationToken.None because the lease
            // should go even if every waiter left.
            try
            {
                await _store.ReleaseLeaseAsync(_key, lease, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Benign: the lease expires after SharedTokenOptions.LeaseTimeToLive.
            }

            throw;
        }

        // From here the refresh token is spent: the new token set is returned whatever happens to its publication, and
        // the publication runs on CancellationToken.None (it must not be lost because the waiters left).
        try
        {
            var shared = new SharedTokenValue(
                _protector.Protect(SharedTokenPayload.Serialize(value), _key), SharedTokenPayload.Fingerprint(value.AccessToken), value.ExpiresAt);
            var result = await StoreAsync(static (s, a, ct) => s._store.PublishAsync(s._key, a.lease, a.shared, ct), (lease, shared), CancellationToken.None)
                .ConfigureAwait(false);
            if (result.IsPublished)
            {
                Log.Sharing.Published(_logger, _options.Name, result.Version);
                return value;
            }

            // The fence held: a newer version exists (this holder's lease had expired and another replica published).
            // Converge on the shared one if it is usable; this token set is valid too, so it is the fallback.
            Log.Sharing.Superseded(_logger, _options.Name, lease.Version, result.Version);
            var current = await StoreAsync(static (s, _, ct) => s._store.ReadAsync(s._key, ct), 0, CancellationToken.None).ConfigureAwait(false);
            return current is not null && TryAdopt(current, previousFingerprint: null) is { } newer ? newer : value;
        }
        catch (SharedTokenStoreUnavailableException exception)
        {
            ReportUnavailable(exception);
            Log.Sharing.PublishFailed(_logger, _options.Name, lease.Version, exception.InnerException?.GetType() ?? exception.GetType());
            return value;
        }
    }

    /// <summary>The record's token set if it may be adopted instead of exchanging: live, not the token being replaced, and usable now.</summary>
    private TokenContainer? TryAdopt(SharedTokenRecord record, string? previousFingerprint)
    {
        if (record.IsRetired || record.Value.Fingerprint == previousFingerprint)
        {
            return null;
        }

        var token = Unprotect(record);
        return IsAccepted(token) && IsUsable(token, _time.GetUtcNow()) ? token : null;
    }

    private bool IsAccepted(TokenContainer token)
    {
        if (Accepts is null || Accepts(token))
        {
            return true;
        }

        Log.Sharing.Ignored(_logger, _options.Name);
        return false;
    }

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

    private TokenContainer Unprotect(SharedTokenRecord record)
    {
        try
        {
            return SharedTokenPayload.Deserialize(_protector.Unprotect(record.Value.ProtectedPayload.Span, _key)) with { IsShared = true };
        }
        catch (Exception exception) when (exception is System.Security.Cryptography.CryptographicException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // A payload written with another key or format: treated as a store failure (FailureMode), never as "no record".
            throw new SharedTokenStoreUnavailableException("The shared token record could not be unprotected (another protector key?).", exception);
        }
    }

    /// <summary>Runs one store operation: a failure becomes <see cref="SharedTokenStoreUnavailableException"/>; the acquisition's cancellation stays itself.</summary>
    private async Task<TResult> StoreAsync<TArg, TResult>(
        Func<SharedTokenAcquisition, TArg, CancellationToken, ValueTask<TResult>> operation, TArg argument, CancellationToken cancellationToken)
    {
        TResult result;
        try
        {
            result = await operation(this, argument, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (SharedTokenStoreUnavailableException)
        {
            throw;
        }
        catch (Exception exception)
        {
            throw new SharedTokenStoreUnavailableException("The shared token store failed: " + exception.GetType().Name + ".", exception);
        }

        if (Interlocked.Exchange(ref Health.Unavailable, 0) != 0)
        {
            Log.Sharing.StoreRecovered(_logger, _options.Name);
        }

        return result;
    }

    private void ReportUnavailable(SharedTokenStoreUnavailableException exception)
    {
        AuthMetrics.SharedStoreFailures.Add(1, _tag);
        if (Interlocked.Exchange(ref Health.Unavailable, 1) == 0)
        {
            Log.Sharing.StoreUnavailable(_logger, _options.Name, exception.InnerException?.GetType() ?? exception.GetType(), _options.FailureMode.ToString());
        }
    }

    /// <summary>The store's health as the log sees it (see <see cref="Health"/>).</summary>
    internal sealed class StoreHealth
    {
        // 0 = the last store operation succeeded, 1 = it failed. Interlocked.Exchange only, so that the warning and the
        // recovery message are written once per transition; no decision depends on it.
        internal int Unavailable;
    }
}
