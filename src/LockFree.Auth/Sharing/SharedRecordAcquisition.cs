using System.Globalization;
using LockFree.Auth.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LockFree.Auth;

/// <summary>
/// How one kind of shared value (a token set, a client registration) is written to a shared record: serialized (then
/// protected by the <see cref="ISharedTokenProtector"/>), fingerprinted for conditional invalidation, and judged
/// usable. Pure.
/// </summary>
internal interface ISharedRecordCodec<T>
    where T : class
{
    /// <summary>The value's serialized form (protected before it leaves the process).</summary>
    byte[] Serialize(T value);

    /// <summary>The value read back from <see cref="Serialize"/>'s output.</summary>
    T Deserialize(ReadOnlySpan<byte> utf8);

    /// <summary>The hash that identifies the value for <see cref="ISharedTokenStore.InvalidateIfAsync"/> (never the secret itself).</summary>
    string Fingerprint(T value);

    /// <summary>When the value stops being usable, if known (the record's expiry).</summary>
    DateTimeOffset? ExpiresAt(T value);

    /// <summary>Whether an adopted value is still usable at <paramref name="now"/>.</summary>
    bool IsUsable(T value, DateTimeOffset now);

    /// <summary>
    /// <paramref name="value"/> marked as having gone through the store (adopted, or produced under its lease): other
    /// replicas may hold what it carries (a token set's refresh token).
    /// </summary>
    T MarkShared(T value);

    /// <summary>
    /// For an exchange while the store is unavailable: <paramref name="previous"/> without what may not be presented
    /// without the lease (a marked token set's refresh token: two replicas presenting it revoke the chain), or
    /// <see langword="null"/> when nothing needs withholding.
    /// </summary>
    T? WithoutSharedSecrets(T previous);
}

/// <summary>
/// The replica protocol of <c>spec/distributed.md</c> for one record, written once for every kind of shared value: adopt a
/// newer value another replica published, else take the lease at the record's version, run the work with the value
/// <em>of that version</em> and publish with the version as the fence; if another replica holds the lease, wait for
/// its notification (bounded) and adopt. <see cref="SharedTokenAcquisition"/> (token sets) and the client
/// registrations of <c>ClientOAuthProvider</c> use it.
/// </summary>
/// <remarks>
/// Concurrency: immutable after construction except the shared <see cref="SharedTokenAcquisition.StoreHealth"/> flag;
/// safe from any number of coordinators and threads. The acquisition's <see cref="CancellationToken"/> (a
/// coordinator's own, never a caller's) cancels store reads, waits and the work, never a publication of its result.
/// </remarks>
internal sealed class SharedRecordAcquisition<T>
    where T : class
{
    private readonly ISharedTokenStore _store;
    private readonly string _key;
    private readonly Func<AcquisitionContext<T>, CancellationToken, Task<T>> _exchange;
    private readonly SharedTokenOptions _options;
    private readonly ISharedTokenProtector _protector;
    private readonly ISharedRecordCodec<T> _codec;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly KeyValuePair<string, object?> _tag;
    private readonly Func<T, bool>? _accepts;
    private readonly SharedTokenAcquisition.StoreHealth _health;

    // Where lockfree.auth.shared.* is recorded: the creating provider's (its container's meter), else the static one's.
    private readonly AuthInstruments _instruments;

    /// <summary>Creates the protocol of one key. <paramref name="options"/> must be a validated copy nobody else changes.</summary>
    internal SharedRecordAcquisition(
        ISharedTokenStore store,
        string key,
        Func<AcquisitionContext<T>, CancellationToken, Task<T>> exchange,
        SharedTokenOptions options,
        ISharedRecordCodec<T> codec,
        TimeProvider time,
        Func<T, bool>? accepts,
        SharedTokenAcquisition.StoreHealth health,
        string? name = null,
        AuthInstruments? instruments = null)
    {
        _store = store;
        _key = key;
        _exchange = exchange;
        _options = options;
        _codec = codec;
        _protector = options.Protector ?? SharedTokenPayload.PlainText.Instance;
        _time = time;
        _accepts = accepts;
        _health = health;
        _instruments = instruments ?? AuthInstruments.Default;
        Name = name ?? options.Name;
        _logger = options.LoggerFactory?.CreateLogger("LockFree.Auth.SharedTokenAcquisition") ?? NullLogger.Instance;
        _tag = new KeyValuePair<string, object?>(AuthMetrics.CoordinatorTag, Name);
    }

    /// <summary>The degraded exchange's context: <see cref="AcquisitionContext{T}.Previous"/> without what came through the store.</summary>
    private AcquisitionContext<T> WithoutSharedSecrets(AcquisitionContext<T> context)
    {
        if (context.Previous is not { } previous || _codec.WithoutSharedSecrets(previous) is not { } withheld)
        {
            return context;
        }

        Log.Sharing.SharedRefreshTokenWithheld(_logger, Name);
        return context with { Previous = withheld };
    }

    /// <summary>The name in logs and metrics (<see cref="SharedTokenOptions.Name"/> unless given).</summary>
    internal string Name { get; }

    /// <summary>
    /// A new holder id for each acquisition: this process's id and a random GUID. An internal seam only for the Coyote
    /// scenarios (spec/coyote.md, "Replica scenarios"), which give deterministic ids because Coyote cannot control
    /// <see cref="Guid.NewGuid"/>; an id is only ever compared for equality, so any unique string behaves the same.
    /// </summary>
    internal Func<string> NewHolder { get; set; } = static () => string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>The shared acquisition; a store failure before the work started follows <see cref="SharedTokenOptions.FailureMode"/>.</summary>
    internal async Task<T> AcquireAsync(AcquisitionContext<T> context, CancellationToken cancellationToken)
    {
        try
        {
            return await AcquireSharedAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (SharedTokenStoreUnavailableException exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Thrown only before the work started (see ExchangeAndPublishAsync): nothing was spent yet.
            ReportUnavailable(exception);
            if (_options.FailureMode == SharedStoreFailureMode.FailClosed)
            {
                throw;
            }

            // Degrade: this process's coordinator still coalesces its callers into this one exchange. A refresh token that
            // came through the store may be held by every replica; without the lease two of them would present it, and
            // reuse detection revokes the whole chain. So it is withheld: the exchange uses the configured grant
            // (client credentials, jwt-bearer; an authorization-code client must sign in again). A value this process
            // obtained while degraded is its own, so its refresh token is used (spec/distributed.md, R29).
            return await _exchange(WithoutSharedSecrets(context), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Retires the record only if it still holds the value of <paramref name="fingerprint"/>; a store failure is logged and counted, and <see langword="false"/> returned.</summary>
    internal async Task<bool> InvalidateIfAsync(string fingerprint, CancellationToken cancellationToken)
    {
        try
        {
            var retired = await StoreAsync(
                static (s, a, ct) => s._store.InvalidateIfAsync(s._key, a, ct),
                fingerprint,
                cancellationToken).ConfigureAwait(false);
            Log.Sharing.Invalidated(_logger, Name, retired);
            return retired;
        }
        catch (SharedTokenStoreUnavailableException exception) when (!cancellationToken.IsCancellationRequested)
        {
            ReportUnavailable(exception);
            return false;
        }
    }

    /// <summary>
    /// <see cref="InvalidateIfAsync"/> for a caller that does not wait for it: on <see cref="CancellationToken.None"/>,
    /// never a caller's, and every failure is observed and logged (5010).
    /// </summary>
    internal async Task InvalidateInBackgroundAsync(string fingerprint)
    {
        try
        {
            // Off the caller's path: the rejected request's retry goes on at once.
            await Task.Yield();
            await InvalidateIfAsync(fingerprint, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Log.Sharing.InvalidationFailed(_logger, Name, exception.GetType());
        }
    }

    private async Task<T> AcquireSharedAsync(AcquisitionContext<T> context, CancellationToken cancellationToken)
    {
        // A holder per acquisition, not per process: after an invalidation, a second acquisition of the same coordinator
        // may run beside the first, and it must not renew the first one's lease.
        var holder = NewHolder();
        var previousFingerprint = context.Previous is { } previous ? _codec.Fingerprint(previous) : null;
        var deadline = _time.GetUtcNow() + _options.MaxWait;
        while (true)
        {
            var record = await StoreAsync(static (s, _, ct) => s._store.ReadAsync(s._key, ct), 0, cancellationToken).ConfigureAwait(false);
            if (record is not null && TryAdopt(record, previousFingerprint) is { } adopted)
            {
                _instruments.SharedAdopted.Add(1, _tag);
                Log.Sharing.Adopted(_logger, Name, record.Version);
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
                    Log.Sharing.LeaseGranted(_logger, Name, lease.Version);
                    return await ExchangeAndPublishAsync(context, record, lease, cancellationToken).ConfigureAwait(false);

                case SharedLeaseStatus.Stale:
                    // Another replica published (or the record expired) between the read and the lease: re-read.
                    continue;

                default:
                    if (_time.GetUtcNow() >= deadline)
                    {
                        throw new SharedTokenStoreUnavailableException(
                            $"No shared value was published within SharedTokenOptions.MaxWait ({_options.MaxWait}) while other replicas held the lease.");
                    }

                    // Woken by the holder's notification; the bound is the fallback re-read (a lost notification, a
                    // crashed holder whose lease expires).
                    var bound = lease.Remaining < _options.FallbackReadInterval ? lease.Remaining + TimeSpan.FromMilliseconds(1) : _options.FallbackReadInterval;
                    Log.Sharing.Waiting(_logger, Name, lease.Version, (long)bound.TotalMilliseconds);
                    await StoreAsync(
                        static async (s, a, ct) => { await s._store.WaitForChangeAsync(s._key, a.version, a.bound, ct).ConfigureAwait(false); return 0; },
                        (version, bound),
                        cancellationToken).ConfigureAwait(false);
                    continue;
            }
        }
    }

    private async Task<T> ExchangeAndPublishAsync(AcquisitionContext<T> context, SharedTokenRecord? record, SharedLease lease, CancellationToken cancellationToken)
    {
        // The value of the fenced version: the record's (retired or not) if there is one, else the coordinator's own
        // previous value (a first exchange, or a value restored from a local cache).
        T value;
        try
        {
            var atFence = record is null ? context.Previous : Unprotect(record);
            if (atFence is not null && !IsAccepted(atFence))
            {
                atFence = context.Previous;
            }

            // Marked shared before publication: even a publication that seems to fail may have reached the store.
            value = _codec.MarkShared(await _exchange(context with { Previous = atFence }, cancellationToken).ConfigureAwait(false));
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

        // From here the work is done (a refresh token spent, a client registered): the value is returned whatever happens
        // to its publication, and the publication runs on CancellationToken.None (it must not be lost because the
        // waiters left).
        try
        {
            var shared = new SharedTokenValue(_protector.Protect(_codec.Serialize(value), _key), _codec.Fingerprint(value), _codec.ExpiresAt(value));
            var result = await StoreAsync(static (s, a, ct) => s._store.PublishAsync(s._key, a.lease, a.shared, ct), (lease, shared), CancellationToken.None)
                .ConfigureAwait(false);
            if (result.IsPublished)
            {
                Log.Sharing.Published(_logger, Name, result.Version);
                return value;
            }

            // The fence held: a newer version exists (this holder's lease had expired and another replica published).
            // Converge on the shared one if it is usable; this value is valid too, so it is the fallback.
            Log.Sharing.Superseded(_logger, Name, lease.Version, result.Version);
            var current = await StoreAsync(static (s, _, ct) => s._store.ReadAsync(s._key, ct), 0, CancellationToken.None).ConfigureAwait(false);
            return current is not null && TryAdopt(current, previousFingerprint: null) is { } newer ? newer : value;
        }
        catch (SharedTokenStoreUnavailableException exception)
        {
            ReportUnavailable(exception);
            Log.Sharing.PublishFailed(_logger, Name, lease.Version, exception.InnerException?.GetType() ?? exception.GetType());
            return value;
        }
    }

    /// <summary>The record's value if it may be adopted instead of exchanging: live, not the value being replaced, and usable now.</summary>
    private T? TryAdopt(SharedTokenRecord record, string? previousFingerprint)
    {
        if (record.IsRetired || record.Value.Fingerprint == previousFingerprint)
        {
            return null;
        }

        var value = Unprotect(record);
        return IsAccepted(value) && _codec.IsUsable(value, _time.GetUtcNow()) ? value : null;
    }

    private bool IsAccepted(T value)
    {
        if (_accepts is null || _accepts(value))
        {
            return true;
        }

        Log.Sharing.Ignored(_logger, Name);
        return false;
    }

    private T Unprotect(SharedTokenRecord record)
    {
        try
        {
            return _codec.MarkShared(_codec.Deserialize(_protector.Unprotect(record.Value.ProtectedPayload.Span, _key)));
        }
        catch (Exception exception) when (exception is System.Security.Cryptography.CryptographicException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // A payload written with another key or format: treated as a store failure (FailureMode), never as "no record".
            throw new SharedTokenStoreUnavailableException("The shared record could not be unprotected (another protector key?).", exception);
        }
    }

    /// <summary>Runs one store operation: a failure becomes <see cref="SharedTokenStoreUnavailableException"/>; the acquisition's cancellation stays itself.</summary>
    private async Task<TResult> StoreAsync<TArg, TResult>(
        Func<SharedRecordAcquisition<T>, TArg, CancellationToken, ValueTask<TResult>> operation, TArg argument, CancellationToken cancellationToken)
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

        if (Interlocked.Exchange(ref _health.Unavailable, 0) != 0)
        {
            Log.Sharing.StoreRecovered(_logger, Name);
        }

        return result;
    }

    private void ReportUnavailable(SharedTokenStoreUnavailableException exception)
    {
        _instruments.SharedStoreFailures.Add(1, _tag);
        if (Interlocked.Exchange(ref _health.Unavailable, 1) == 0)
        {
            Log.Sharing.StoreUnavailable(_logger, Name, exception.InnerException?.GetType() ?? exception.GetType(), _options.FailureMode.ToString());
        }
    }
}
