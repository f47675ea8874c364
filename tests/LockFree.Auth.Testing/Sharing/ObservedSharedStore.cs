using System.Collections.Concurrent;
using System.Threading.Channels;

namespace LockFree.Auth.Testing.Sharing;

/// <summary>
/// A store that forwards to another and records what the providers did with it: the record keys they read, the lease
/// answers per key, and the result of each conditional invalidation (the providers run those in the background), so a
/// test can await them, bounded.
/// </summary>
public sealed class ObservedSharedStore(ISharedTokenStore inner) : DelegatingStore(inner)
{
    private readonly Channel<bool> _invalidations = Channel.CreateUnbounded<bool>();

    /// <summary>Every record key read, with how often.</summary>
    public ConcurrentDictionary<string, int> Keys { get; } = new(StringComparer.Ordinal);

    /// <summary>Lease requests per key and status (for example how often a replica found the lease held).</summary>
    public ConcurrentDictionary<(string Key, SharedLeaseStatus Status), int> Leases { get; } = new();

    /// <summary>The next conditional invalidation's result (retired or not); await it bounded.</summary>
    public Task<bool> NextInvalidationAsync() => _invalidations.Reader.ReadAsync().AsTask();

    public override ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        Keys.AddOrUpdate(key, 1, static (_, n) => n + 1);
        return Inner.ReadAsync(key, cancellationToken);
    }

    public override async ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        var lease = await Inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken).ConfigureAwait(false);
        Leases.AddOrUpdate((key, lease.Status), 1, static (_, n) => n + 1);
        return lease;
    }

    public override async ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        var retired = await Inner.InvalidateIfAsync(key, fingerprint, cancellationToken).ConfigureAwait(false);
        _invalidations.Writer.TryWrite(retired);
        return retired;
    }
}
