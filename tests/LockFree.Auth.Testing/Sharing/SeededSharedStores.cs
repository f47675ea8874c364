namespace LockFree.Auth.Testing.Sharing;

// Seeded-bug twins of a shared token store, used by the Redis directed tests (tests/LockFree.Auth.Redis.Tests/SeededBugTests.cs)
// and by the CsCheck search (tests/LockFree.Auth.PropertyTests/Sharing/SeededStoreSearchTests.cs): each wraps a correct store
// and breaks one transition.

/// <summary>Bug: publishes over whatever version is current (a compare-and-set without the compare).</summary>
public sealed class FenceIgnoringStore(ISharedTokenStore inner) : DelegatingStore(inner)
{
    public override async ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken)
    {
        var current = (await Inner.ReadAsync(key, cancellationToken))?.Version ?? 0;
        return await Inner.PublishAsync(key, SharedLease.Granted(current, lease.Holder!), value, cancellationToken);
    }
}

/// <summary>Bug: a lease is granted whenever the version matches, whoever holds it.</summary>
public sealed class EveryoneGetsTheLeaseStore(ISharedTokenStore inner) : DelegatingStore(inner)
{
    public override async ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        var lease = await Inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);
        return lease.Status == SharedLeaseStatus.Held ? SharedLease.Granted(expectedVersion, holder) : lease;
    }
}

public abstract class DelegatingStore(ISharedTokenStore inner) : ISharedTokenStore
{
    protected ISharedTokenStore Inner => inner;

    public ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken) => inner.ReadAsync(key, cancellationToken);

    public virtual ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken) =>
        inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);

    public virtual ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken) =>
        inner.PublishAsync(key, lease, value, cancellationToken);

    public ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken) => inner.ReleaseLeaseAsync(key, lease, cancellationToken);

    public ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken) => inner.InvalidateIfAsync(key, fingerprint, cancellationToken);

    public ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken) =>
        inner.WaitForChangeAsync(key, knownVersion, bound, cancellationToken);
}
