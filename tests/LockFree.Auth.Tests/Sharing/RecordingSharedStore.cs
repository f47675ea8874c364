using System.Collections.Concurrent;
using System.Threading.Channels;

namespace LockFree.Auth.Tests.Sharing;

/// <summary>
/// A store that forwards to another and records what the providers did with it: the record keys they read, and the
/// result of each conditional invalidation (the providers run those in the background), so a test can await them.
/// </summary>
internal sealed class RecordingSharedStore(ISharedTokenStore inner) : ISharedTokenStore
{
    private readonly Channel<bool> _invalidations = Channel.CreateUnbounded<bool>();

    /// <summary>Every record key read, with how often.</summary>
    public ConcurrentDictionary<string, int> Keys { get; } = new(StringComparer.Ordinal);

    /// <summary>The next conditional invalidation's result (retired or not); await it bounded.</summary>
    public Task<bool> NextInvalidationAsync() => _invalidations.Reader.ReadAsync().AsTask();

    public ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        Keys.AddOrUpdate(key, 1, static (_, n) => n + 1);
        return inner.ReadAsync(key, cancellationToken);
    }

    public ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken) =>
        inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);

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
