namespace LockFree.Auth;

/// <summary>
/// The invalidation epoch an <see cref="AuthCoordinatorMap{TKey, T}"/> shares with its coordinators: invalidating every
/// key is one increment of this counter instead of one compare-and-swap per key.
/// </summary>
/// <remarks>
/// <para>
/// Every <see cref="AuthSnapshot{T}"/> carries the epoch it belongs to (<see cref="AuthSnapshot{T}.Epoch"/>). A snapshot
/// whose epoch differs from <see cref="Value"/> counts as invalidated (I3/I11 in <c>spec/concurrency-contract.md</c>):
/// its value is never served and its acquisition can no longer be joined; the coordinator replaces it by its
/// <c>WithInvalidated</c> successor on first touch.
/// </para>
/// <para>
/// Concurrency: written only by <see cref="Advance"/> (<see cref="Interlocked.Increment(ref long)"/>, a full fence), read
/// with <c>Volatile.Read</c>. Monotonic: a snapshot's epoch was read from this counter before the
/// snapshot was published, so it is never ahead of it.
/// </para>
/// </remarks>
internal sealed class InvalidationEpoch
{
    /// <summary>The epoch of a coordinator outside any map: never advanced, so its snapshots (epoch 0) never go stale.</summary>
    public static InvalidationEpoch None { get; } = new();

    // The only mutable field: incremented by Advance, read by Value (see the remarks).
    private long _value;

    /// <summary>The current epoch (one acquire read).</summary>
    public long Value => Volatile.Read(ref _value);

    /// <summary>Invalidates every snapshot of the current epoch: one atomic increment, no allocation, O(1).</summary>
    public void Advance()
    {
        // I11: the increment is InvalidateAll's linearization point. A caller that starts after it reads the new epoch,
        // and every value published afterwards by an acquisition installed before it carries the old one.
        Interlocked.Increment(ref _value);
    }
}
