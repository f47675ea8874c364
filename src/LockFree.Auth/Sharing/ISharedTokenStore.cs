namespace LockFree.Auth;

/// <summary>
/// A store of one shared, versioned token record per key, through which replicas (processes, pods) of one client
/// identity share one token set without burning rotating refresh tokens (<c>spec/distributed.md</c>).
/// </summary>
/// <remarks>
/// <para>
/// Consulted only on the slow path, by <see cref="SharedTokenAcquisition"/>: a coordinator's cached value is still
/// served with one volatile read and no I/O. Each operation is one atomic step in the store (a Lua script in Redis).
/// </para>
/// <para>
/// Safety comes from the version: <see cref="PublishAsync"/> succeeds only while the record still has the version
/// the lease was granted at (its fence), so a holder whose lease expired can never overwrite a newer version. The
/// lease only keeps the other replicas from exchanging at the same time; it is not what makes publication safe.
/// </para>
/// <para>
/// Concurrency: every member may be called from any thread, concurrently, and from any number of processes sharing
/// the store.
/// </para>
/// </remarks>
public interface ISharedTokenStore
{
    /// <summary>Reads the record of <paramref name="key"/>, or <see langword="null"/> when there is none.</summary>
    ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Takes the lease of <paramref name="key"/> for <paramref name="holder"/> if the record still has
    /// <paramref name="expectedVersion"/> (0: no record) and no other holder has a live lease at that version.
    /// </summary>
    /// <returns>
    /// <see cref="SharedLeaseStatus.Granted"/> (the fence is <paramref name="expectedVersion"/>),
    /// <see cref="SharedLeaseStatus.Stale"/> with the current version, or <see cref="SharedLeaseStatus.Held"/> with the
    /// time the other holder's lease has left.
    /// </returns>
    ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes <paramref name="value"/> as version <c>fence + 1</c> only if the record still has the lease's fence
    /// version (compare-and-set), releases the lease if it is still this holder's, and notifies the waiters. The lease
    /// need not be live any more: the version alone decides.
    /// </summary>
    ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken);

    /// <summary>Releases the lease if it is still this holder's at its fence (after a failed exchange), so others need not wait for its expiry.</summary>
    ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken);

    /// <summary>
    /// Retires the record only if it is live and still holds the access token whose fingerprint is
    /// <paramref name="fingerprint"/>, and notifies the waiters. Its refresh token stays for the next exchange.
    /// </summary>
    /// <returns><see langword="true"/> if this call retired the record.</returns>
    ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken);

    /// <summary>
    /// Returns when the record of <paramref name="key"/> no longer has <paramref name="knownVersion"/> or changed
    /// state (a notification), or when <paramref name="bound"/> has elapsed, whichever comes first: a waiter is woken
    /// by the publisher's notification and re-reads after the bound if the notification was lost.
    /// </summary>
    ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken);
}
