namespace LockFree.Auth.Testing.Sharing;

// Seeded-bug twins of a shared token store, used by the Redis directed tests (tests/LockFree.Auth.Redis.Tests/SeededBugTests.cs),
// the CsCheck search (tests/LockFree.Auth.PropertyTests/Sharing/SeededStoreSearchTests.cs) and the Coyote replica scenarios
// (tests/LockFree.Auth.CoyoteTests/Sharing, SeededBugCatalog): each wraps a correct store and breaks one transition.

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

/// <summary>Bug: a lease is granted whatever the version and whoever holds it (no fencing of the lease): Stale and Held become Granted at the caller's version.</summary>
public sealed class UnfencedLeaseStore(ISharedTokenStore inner) : DelegatingStore(inner)
{
    public override async ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        var lease = await Inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);
        return lease.Status == SharedLeaseStatus.Granted ? lease : SharedLease.Granted(expectedVersion, holder);
    }
}

/// <summary>Bug: a shared invalidation retires whatever token the record holds (the fingerprint of the rejected token is ignored).</summary>
public sealed class BlindInvalidationStore(ISharedTokenStore inner) : DelegatingStore(inner)
{
    public override async ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        var current = await Inner.ReadAsync(key, cancellationToken);
        return current is not null && await Inner.InvalidateIfAsync(key, current.Value.Fingerprint, cancellationToken);
    }
}

/// <summary>Bug: a lease never expires (its time to live is ignored): a holder that crashed blocks every other replica for good.</summary>
public sealed class EternalLeaseStore(ISharedTokenStore inner) : DelegatingStore(inner)
{
    public override ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken) =>
        Inner.TryAcquireLeaseAsync(key, expectedVersion, holder, TimeSpan.FromDays(365), cancellationToken);
}

public abstract class DelegatingStore(ISharedTokenStore inner) : ISharedTokenStore
{
    protected ISharedTokenStore Inner => inner;

    public virtual ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken) => inner.ReadAsync(key, cancellationToken);

    public virtual ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken) =>
        inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);

    public virtual ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken) =>
        inner.PublishAsync(key, lease, value, cancellationToken);

    public ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken) => inner.ReleaseLeaseAsync(key, lease, cancellationToken);

    public virtual ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken) => inner.InvalidateIfAsync(key, fingerprint, cancellationToken);

    public ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken) =>
        inner.WaitForChangeAsync(key, knownVersion, bound, cancellationToken);
}
