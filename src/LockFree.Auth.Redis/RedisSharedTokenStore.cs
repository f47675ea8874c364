using System.Collections.Concurrent;
using System.Globalization;
using StackExchange.Redis;

namespace LockFree.Auth.Redis;

/// <summary>
/// An <see cref="ISharedTokenStore"/> on Redis: one hash per key for the record, one string with a TTL for the lease,
/// one pub/sub channel per prefix for the notifications; every read-modify-write is one Lua script, so each transition
/// is one atomic step on the server (<c>spec/distributed.md</c>).
/// </summary>
/// <remarks>
/// <para>
/// Use with <see cref="SharedTokenAcquisition"/>. The multiplexer is the caller's (not disposed here); configure it
/// with <c>AbortOnConnectFail = false</c> (reconnects by itself) and <c>BacklogPolicy.FailFast</c> so that commands fail
/// at once while Redis is down instead of waiting in a backlog, which lets
/// <see cref="SharedTokenOptions.FailureMode"/> act promptly. Every key has a TTL: a record
/// <see cref="RedisSharedTokenStoreOptions.RecordTimeToLive"/> after its last publication, a lease
/// <see cref="SharedTokenOptions.LeaseTimeToLive"/> after it was taken.
/// </para>
/// <para>
/// Concurrency: every member is safe to call from any thread, concurrently, and from any number of processes. The
/// only mutable state is the subscription task (set once with <see cref="Interlocked.CompareExchange{T}(ref T, T, T)"/>,
/// cleared with a compare-and-swap if it failed so that the next wait tries again) and the wake-up signals (a
/// <see cref="ConcurrentDictionary{TKey, TValue}"/> of completion sources, each completed at most once).
/// </para>
/// </remarks>
public sealed class RedisSharedTokenStore : ISharedTokenStore, IAsyncDisposable
{
    private const string Live = "live";

    private static readonly RedisValue[] s_fields = ["v", "p", "e", "f", "s"];

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisSharedTokenStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly RedisChannel _channel;
    private readonly string _channelName;
    private readonly string _recordTtlMilliseconds;
    private readonly Action<RedisChannel, RedisValue> _handler;

    // One signal per key (see Notify): a waiter takes it before reading; a notification removes and completes it.
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _signals = new(StringComparer.Ordinal);

    // The subscription to the channel, started by the first wait; written with CompareExchange (from null, or back to
    // null when it failed). Read with Volatile.Read.
    private Task? _subscribed;

    /// <summary>Creates the store over a connection you own.</summary>
    /// <param name="redis">The connection (not disposed by the store).</param>
    /// <param name="options">The key prefix and the record TTL; validated and copied.</param>
    /// <param name="timeProvider">The clock of bounded waits; <see cref="TimeProvider.System"/> when omitted. Lease and record TTLs run on the Redis server's clock.</param>
    public RedisSharedTokenStore(IConnectionMultiplexer redis, RedisSharedTokenStoreOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentNullException.ThrowIfNull(redis);
        _redis = redis;
        _options = options.Copy();
        _time = timeProvider ?? TimeProvider.System;
        _channelName = _options.KeyPrefix + ":changed";
        _channel = RedisChannel.Literal(_channelName);
        _recordTtlMilliseconds = ((long)_options.RecordTimeToLive.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        _handler = (_, message) => Notify(message.ToString());
    }

    /// <summary>The Redis key of <paramref name="key"/>'s record (a hash). Both keys of one record share a hash tag, so scripts also work on a cluster.</summary>
    internal string RecordKey(string key) => _options.KeyPrefix + ":{" + key + "}:record";

    /// <summary>The Redis key of <paramref name="key"/>'s lease (a string with a TTL).</summary>
    internal string LeaseKey(string key) => _options.KeyPrefix + ":{" + key + "}:lease";

    /// <inheritdoc/>
    public async ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        var fields = await _redis.GetDatabase().HashGetAsync(RecordKey(key), s_fields).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (fields[0].IsNull)
        {
            return null;
        }

        var expires = fields[2].IsNullOrEmpty ? (DateTimeOffset?)null : DateTimeOffset.FromUnixTimeMilliseconds((long)fields[2]);
        var value = new SharedTokenValue((byte[])fields[1]!, fields[3].ToString(), expires);
        return new SharedTokenRecord((long)fields[0], value, isRetired: fields[4].ToString() != Live);
    }

    /// <inheritdoc/>
    public async ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedVersion);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeToLive, TimeSpan.FromMilliseconds(1));
        if (holder.Contains(' ', StringComparison.Ordinal))
        {
            throw new ArgumentException("A lease holder must not contain a space.", nameof(holder));
        }

        var result = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(
            RedisScripts.Lease,
            [RecordKey(key), LeaseKey(key)],
            [expectedVersion, holder, (long)Math.Ceiling(timeToLive.TotalMilliseconds)]).WaitAsync(cancellationToken).ConfigureAwait(false))!;
        var version = (long)result[1];
        return (long)result[0] switch
        {
            2 => SharedLease.Granted(version, holder),
            1 => SharedLease.Held(version, TimeSpan.FromMilliseconds(Math.Max(0, (long)result[2]))),
            _ => SharedLease.Stale(version),
        };
    }

    /// <inheritdoc/>
    public async ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(value);
        if (lease.Status != SharedLeaseStatus.Granted)
        {
            throw new ArgumentException("Only a granted lease can publish.", nameof(lease));
        }

        var result = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(
            RedisScripts.Publish,
            [RecordKey(key), LeaseKey(key)],
            [
                lease.Version,
                lease.Holder,
                value.ProtectedPayload,
                value.ExpiresAt is { } expires ? expires.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) : string.Empty,
                value.Fingerprint,
                _recordTtlMilliseconds,
                _channelName,
                key,
            ]).WaitAsync(cancellationToken).ConfigureAwait(false))!;
        return new SharedPublishResult((long)result[0] == 1, (long)result[1]);
    }

    /// <inheritdoc/>
    public async ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(lease);
        if (lease.Status != SharedLeaseStatus.Granted)
        {
            return;
        }

        await _redis.GetDatabase().ScriptEvaluateAsync(
            RedisScripts.Release,
            [LeaseKey(key)],
            [lease.Version, lease.Holder, _channelName, key]).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentException.ThrowIfNullOrEmpty(fingerprint);
        var result = await _redis.GetDatabase().ScriptEvaluateAsync(
            RedisScripts.InvalidateIf,
            [RecordKey(key)],
            [fingerprint, _channelName, key]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <inheritdoc/>
    public async ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);

        // Subscribed, then the signal, then the read: a notification published after the read completes the signal
        // taken before it, and the subscription is live before the read, so none is published unseen. A subscription
        // that fails (pub/sub refused, a reconnect under way) is not fatal: the wait degrades to the bounded re-read,
        // and the read below reports an unreachable server as it would anyway.
        try
        {
            await EnsureSubscribedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Benign: waiting for the bound instead of the notification (one read per bound, never a storm).
        }

        var signal = _signals.GetOrAdd(key, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        var record = await ReadAsync(key, cancellationToken).ConfigureAwait(false);
        if ((record?.Version ?? 0) != knownVersion || signal.Task.IsCompleted)
        {
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(bound, _time, stop.Token);
#pragma warning disable VSTHRD003 // The signal is this store's own wake-up task; nothing blocks on it.
        await Task.WhenAny(signal.Task, delay).ConfigureAwait(false);
#pragma warning restore VSTHRD003
        await stop.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Unsubscribes this store's handler from the channel (the multiplexer stays open).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _subscribed) is not null)
        {
            try
            {
                await _redis.GetSubscriber().UnsubscribeAsync(_channel, _handler).ConfigureAwait(false);
            }
            catch (RedisException)
            {
                // Benign: a closed connection has no subscription left to remove.
            }
        }
    }

    private async Task EnsureSubscribedAsync(CancellationToken cancellationToken)
    {
        var subscribed = Volatile.Read(ref _subscribed);
        if (subscribed is null)
        {
            var started = _redis.GetSubscriber().SubscribeAsync(_channel, _handler);
            subscribed = Interlocked.CompareExchange(ref _subscribed, started, null) ?? started;
        }

        try
        {
            await subscribed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (subscribed.IsFaulted || subscribed.IsCanceled)
        {
            // Try again on the next wait (Redis may be back by then); the multiplexer resubscribes after a reconnect.
            _ = Interlocked.CompareExchange(ref _subscribed, null, subscribed);
            throw;
        }
    }

    private void Notify(string key)
    {
        if (_signals.TryRemove(key, out var signal))
        {
            signal.TrySetResult();
        }
    }
}
