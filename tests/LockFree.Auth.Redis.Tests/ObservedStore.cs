using System.Collections.Concurrent;
using System.Threading.Channels;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// A store that forwards to another and records what the providers did with it: the keys they used and the result of
/// each conditional invalidation (which the providers run in the background), so a test can await them, bounded.
/// </summary>
internal sealed class ObservedStore(ISharedTokenStore inner) : ISharedTokenStore
{
    private readonly Channel<bool> _invalidations = Channel.CreateUnbounded<bool>();

    public ConcurrentDictionary<string, int> Keys { get; } = new(StringComparer.Ordinal);

    /// <summary>Lease requests per key and status (for example how often a replica found the lease held).</summary>
    public ConcurrentDictionary<(string Key, SharedLeaseStatus Status), int> Leases { get; } = new();

    /// <summary>The next conditional invalidation's result (retired or not).</summary>
    public Task<bool> NextInvalidationAsync() => _invalidations.Reader.ReadAsync().AsTask();

    public ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        Keys.AddOrUpdate(key, 1, static (_, n) => n + 1);
        return inner.ReadAsync(key, cancellationToken);
    }

    public async ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        var lease = await inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);
        Leases.AddOrUpdate((key, lease.Status), 1, static (_, n) => n + 1);
        return lease;
    }

    public ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken) =>
        inner.PublishAsync(key, lease, value, cancellationToken);

    public ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken) =>
        inner.ReleaseLeaseAsync(key, lease, cancellationToken);

    public async ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        var retired = await inner.InvalidateIfAsync(key, fingerprint, cancellationToken);
        _invalidations.Writer.TryWrite(retired);
        return retired;
    }

    public ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken) =>
        inner.WaitForChangeAsync(key, knownVersion, bound, cancellationToken);
}
