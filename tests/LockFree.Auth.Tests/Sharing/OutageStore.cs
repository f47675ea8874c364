namespace LockFree.Auth.Tests.Sharing;

/// <summary>A store that fails every operation while <see cref="Down"/> (an outage, as a dropped connection does).</summary>
internal sealed class OutageStore(ISharedTokenStore inner) : ISharedTokenStore
{
    private volatile bool _down;

    public bool Down { get => _down; set => _down = value; }

    public ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken) => Up() ? inner.ReadAsync(key, cancellationToken) : default;

    public ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken) =>
        Up() ? inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken) : default;

    public ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken) =>
        Up() ? inner.PublishAsync(key, lease, value, cancellationToken) : default;

    public ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken) => Up() ? inner.ReleaseLeaseAsync(key, lease, cancellationToken) : default;

    public ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken) => Up() ? inner.InvalidateIfAsync(key, fingerprint, cancellationToken) : default;

    public ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken) =>
        Up() ? inner.WaitForChangeAsync(key, knownVersion, bound, cancellationToken) : default;

    private bool Up() => !_down ? true : throw new IOException("The store is unreachable (simulated outage).");
}
