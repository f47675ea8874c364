using System.Collections.Immutable;

namespace LockFree.Auth;

/// <summary>
/// One <see cref="AuthCoordinator{T}"/> per key (for example resource + authorization server + scope set), so
/// different keys never share a value and never wait for each other's work (I8). Holds at most a fixed number of
/// keys: adding one to a full map evicts another.
/// </summary>
/// <typeparam name="TKey">The key type; compared with its default equality.</typeparam>
/// <typeparam name="T">The cached value type.</typeparam>
/// <remarks>
/// <para>
/// The map itself is one immutable state in an <see cref="AuthCell{TState}"/>: a dictionary for lookups and a flat
/// array of the same entries for walks. Adding a key is one compare-and-swap that also removes the evicted key, so a key never maps to two
/// coordinators and the map never holds more than <see cref="Capacity"/> keys.
/// </para>
/// <para>
/// Eviction (only when a key is added to a full map): first a key whose coordinator is idle and holds no value
/// (empty, expired, failed), else the least recently used idle one, else the least recently used one with an
/// acquisition in flight. "Used" means returned by <see cref="For"/> (or by a call forwarded from an evicted
/// coordinator); calls on a coordinator reference kept by the caller do not count. The evicted coordinator is
/// retired, not disposed: its value and timer are dropped at once (they become garbage with it), an acquisition in
/// flight is never cancelled — its waiters get its result, which is not cached — and every later call on a reference
/// to it (<c>GetAsync</c>, both <c>Invalidate</c> forms) is forwarded to the key's current coordinator, created again if
/// needed. A caller holding such a reference therefore keeps working and keeps being covered by
/// <see cref="InvalidateAll"/> and <see cref="Dispose"/>, but loses the fast path: it should call <see cref="For"/>
/// again (its <c>Current</c> stays empty).
/// </para>
/// <para>
/// Cost: a lookup of an existing key is one volatile read, a dictionary lookup (O(log n)) and at most one volatile
/// write of the entry's last-use stamp, and allocates nothing. Adding a key costs O(log n) plus, amortized, O(1) for
/// the flat array (slots are appended in place and the array doubles); adding to a full map also scans the
/// <see cref="Capacity"/> entries once to choose the one to evict and copies the array: O(capacity), bounded by the
/// capacity, not by the number of keys ever seen.
/// </para>
/// <para>
/// <see cref="InvalidateAll"/> is O(1) and allocates nothing, whatever the number of keys: the map and its coordinators
/// share one invalidation epoch (I11 in <c>spec/concurrency-contract.md</c>); <see cref="InvalidateAll"/> advances it with
/// one atomic increment, and a coordinator treats a state of an older epoch as invalidated (it never serves its value
/// and never lets a caller join its acquisition) and replaces it by its invalidated successor on first touch.
/// </para>
/// <para>
/// Concurrency: lock-free; <see cref="For"/> and <see cref="InvalidateAll"/> never block. <see cref="InvalidateAll"/>
/// is atomic across all keys (its linearization point is the increment). After <see cref="Dispose"/>, <see cref="For"/> and <see cref="InvalidateAll"/>
/// throw <see cref="ObjectDisposedException"/>, and a coordinator created by a <see cref="For"/> racing with it is
/// disposed, never leaked. An acquisition still in flight in a coordinator evicted earlier is not cancelled by
/// <see cref="Dispose"/> (the map no longer reaches it); it runs to completion for its own waiters.
/// </para>
/// </remarks>
public sealed class AuthCoordinatorMap<TKey, T> : IDisposable where TKey : notnull where T : class
{
    /// <summary>The capacity when none is given.</summary>
    public const int DefaultCapacity = 64;

    private readonly AuthCell<State> _map = new(State.Empty);
    private readonly Func<TKey, AuthCoordinator<T>> _factory;

    // I11: the invalidation epoch shared with every coordinator this map creates (attached before the coordinator is
    // published). Advanced only by InvalidateAll; see InvalidationEpoch for how it is published and read.
    private readonly InvalidationEpoch _epoch = new();

    // The epoch the coordinators check: _epoch, except in the seeded-bug variant of the test suites, where they check
    // another one that InvalidateAll never advances (the check is skipped in effect).
    private readonly InvalidationEpoch _coordinatorEpoch;

    /// <summary>Creates a map whose coordinators are made by <paramref name="factory"/>.</summary>
    /// <param name="factory">
    /// Makes the coordinator of a key. It must return a new coordinator on every call and be free of side effects: it
    /// may run for a key more than once, and only one result is kept (the others are disposed unused).
    /// </param>
    /// <param name="capacity">The most keys the map holds; adding one more evicts one (see the remarks). Default 64.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public AuthCoordinatorMap(Func<TKey, AuthCoordinator<T>> factory, int capacity = DefaultCapacity)
        : this(factory, capacity, seededBugCoordinatorEpoch: null)
    {
    }

    /// <summary>For the seeded-bug tests: coordinators that check <paramref name="seededBugCoordinatorEpoch"/> instead of the map's epoch.</summary>
    internal AuthCoordinatorMap(Func<TKey, AuthCoordinator<T>> factory, int capacity, InvalidationEpoch? seededBugCoordinatorEpoch)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _factory = factory;
        Capacity = capacity;
        _coordinatorEpoch = seededBugCoordinatorEpoch ?? _epoch;
    }

    /// <summary>The most keys the map holds.</summary>
    public int Capacity { get; }

    /// <summary>The number of keys the map holds now.</summary>
    public int Count => _map.Current.Count;

    /// <summary>The coordinator of <paramref name="key"/>, created on first use (evicting another key if the map is full).</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public AuthCoordinator<T> For(TKey key)
    {
        var map = _map.Current;
        if (map.ByKey.TryGetValue(key, out var existing))
        {
            existing.Touch(Entry.UseStamp(map.Version));
            return existing.Coordinator;
        }

        return Add(key);
    }

    /// <summary>The coordinators that exist now (empty once disposed).</summary>
    internal IEnumerable<KeyValuePair<TKey, AuthCoordinator<T>>> Entries => Enumerate(_map.Current);

    /// <summary>
    /// Invalidates every key's coordinator, as <see cref="AuthCoordinator{T}.Invalidate()"/> on each would, atomically
    /// across keys. O(1), allocates nothing, never blocks, never waits for work in flight.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public void InvalidateAll()
    {
        var map = _map.Current;
        ObjectDisposedException.ThrowIf(map.IsDisposed, this);

        // The key evicted by the add that made this state may still hold its value (its evicting thread can be
        // delayed between the CAS and Evict): finish that eviction, so a reference kept to it serves nothing cached.
        map.Retiring?.Coordinator.Evict(map.Retiring);

        // I11: one atomic increment invalidates every coordinator's state of the old epoch. Nothing acquired under it is
        // served once this returns: a value carries the epoch its acquisition was installed in, whenever it is
        // published, and every read that may serve a value compares it with the current epoch. An acquisition in flight
        // still completes for its waiters; its result is not cached (it is discarded or stamped stale).
        _epoch.Advance();
    }

    /// <summary>Disposes every coordinator; later calls of <see cref="For"/> and <see cref="InvalidateAll"/> throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        // I8 (nothing leaks): one CAS to the terminal state; an Add either succeeded before it (its coordinator is
        // disposed below) or fails against it and disposes its own. The last recorded eviction is finished first.
        var (before, _) = _map.Update(static (_, _) => State.Disposed, 0);
        before.Retiring?.Coordinator.Evict(before.Retiring);
        var slots = before.Slots;
        for (var i = 0; i < before.Count; i++)
        {
            slots[i]!.Coordinator.Dispose();
        }
    }

    /// <summary>The key's coordinator if the key is in the map, without creating or touching it; <see langword="null"/> otherwise.</summary>
    internal AuthCoordinator<T>? TryGet(TKey key) =>
        _map.Current.ByKey.TryGetValue(key, out var entry) ? entry.Coordinator : null;

    private static IEnumerable<KeyValuePair<TKey, AuthCoordinator<T>>> Enumerate(State map)
    {
        for (var i = 0; i < map.Count; i++)
        {
            var entry = map.Slots[i]!;
            yield return new KeyValuePair<TKey, AuthCoordinator<T>>(entry.Key, entry.Coordinator);
        }
    }

    private AuthCoordinator<T> Add(TKey key)
    {
        Entry? entry = null;
        while (true)
        {
            var map = _map.Current;

            // Helping: the eviction recorded in this state is complete before any state without that record is
            // published, so every evicted coordinator is either complete or reachable from the current state.
            map.Retiring?.Coordinator.Evict(map.Retiring);
            if (map.IsDisposed)
            {
                // Created by a For that raced with Dispose: never handed out, so it is disposed here.
                entry?.Coordinator.Dispose();
                throw new ObjectDisposedException(GetType().Name);
            }

            if (map.ByKey.TryGetValue(key, out var existing))
            {
                // Another caller added it first; ours never started anything.
                entry?.Coordinator.Dispose();
                existing.Touch(Entry.UseStamp(map.Version));
                return existing.Coordinator;
            }

            if (entry is null)
            {
                var created = _factory(key) ?? throw new InvalidOperationException("The coordinator factory returned null.");

                // I11: attached while the coordinator is private to this thread; the CAS below publishes both.
                created.AttachEpoch(_coordinatorEpoch);
                entry = new Entry(this, key, created);
            }

            var (next, evicted) = map.With(entry, Capacity);

            // I8: one CAS against the state in which the key was absent adds it (and removes the evicted key): a key
            // never maps to two coordinators, and the map never holds more than Capacity keys.
            if (_map.TryReplace(map, next))
            {
                if (evicted is not null)
                {
                    evicted.Coordinator.Evict(evicted);

                    // I8: the eviction is complete: drop its record, so the map no longer keeps the evicted coordinator
                    // reachable. A CAS against the state just published; if another replaced it, that one's creator
                    // completed this eviction before its CAS and did not copy the record.
                    _map.TryReplace(next, next.WithoutRetiring());
                }

                return entry.Coordinator;
            }
        }
    }

    /// <summary>
    /// A key's slot: the key, its coordinator and a last-use stamp. Immutable except the stamp, which is only an
    /// eviction hint: <c>2v</c> when the key was added as the map's v-th key, <c>2v + 1</c> when it was last returned by
    /// <see cref="For"/> while the map's version was v (so a use ranks after the add that preceded it, and uses between
    /// the same two adds tie). A racing write may store a slightly older stamp, which only makes the entry look a
    /// little less recently used.
    /// </summary>
    private sealed class Entry(AuthCoordinatorMap<TKey, T> owner, TKey key, AuthCoordinator<T> coordinator) : ICoordinatorHome<T>
    {
        private long _lastUse;

        public TKey Key { get; } = key;

        public AuthCoordinator<T> Coordinator { get; } = coordinator;

        public long LastUse => Volatile.Read(ref _lastUse);

        public static long AddStamp(long version) => 2 * version;

        public static long UseStamp(long version) => (2 * version) + 1;

        /// <summary>Stamps a use; writes only when the stamp grows, so a hot key causes no write traffic.</summary>
        public void Touch(long stamp)
        {
            if (Volatile.Read(ref _lastUse) < stamp)
            {
                Volatile.Write(ref _lastUse, stamp);
            }
        }

        AuthCoordinator<T> ICoordinatorHome<T>.Resolve() => owner.For(Key);

        AuthCoordinator<T>? ICoordinatorHome<T>.TryResolveExisting() => owner.TryGet(Key);
    }

    /// <summary>
    /// The map's immutable state: lookups by key, the same entries in <c>Slots[0..Count)</c>, and a version that counts
    /// the keys ever added (the clock of the last-use stamps).
    /// </summary>
    /// <remarks>
    /// <c>Slots</c> may be longer than <c>Count</c> and shared with the next state: an add claims the slot at
    /// <c>Count</c> with a compare-and-swap from <see langword="null"/> before its state CAS. A state reads only its
    /// first <c>Count</c> slots, which never change once a state refers to them; a slot claimed by an add whose state
    /// CAS then failed is never read (the next add finds it taken and copies the array).
    /// </remarks>
    private sealed class State(ImmutableDictionary<TKey, Entry> byKey, Entry?[] slots, int count, long version, Entry? retiring = null, bool isDisposed = false)
    {
        private const int InitialSlots = 4;

        public static State Empty { get; } = new(ImmutableDictionary<TKey, Entry>.Empty, [], 0, 0);

        public static State Disposed { get; } = new(ImmutableDictionary<TKey, Entry>.Empty, [], 0, 0, isDisposed: true);

        public ImmutableDictionary<TKey, Entry> ByKey { get; } = byKey;

        public Entry?[] Slots { get; } = slots;

        public int Count { get; } = count;

        public long Version { get; } = version;

        public bool IsDisposed { get; } = isDisposed;

        /// <summary>The entry the add that made this state evicted, until the next state: its eviction may still be running.</summary>
        public Entry? Retiring { get; } = retiring;

        /// <summary>The same state without the record of a completed eviction.</summary>
        public State WithoutRetiring() => new(ByKey, Slots, Count, Version);

        /// <summary>The state with <paramref name="entry"/> added, and the entry it evicted (if the map was full).</summary>
        public (State Next, Entry? Evicted) With(Entry entry, int capacity)
        {
            var version = Version + 1;
            entry.Touch(Entry.AddStamp(version)); // not yet visible to other threads
            if (Count < capacity)
            {
                var slots = Slots;

                // I8 (a state's first Count slots never change): claim the free slot at Count with a CAS from null, so
                // two racing adds never write the same slot of a shared array; the loser copies.
                if (Count >= slots.Length || Interlocked.CompareExchange(ref slots[Count], entry, null) is not null)
                {
                    // No room, or the slot was claimed by a racing add: copy (doubling, up to the capacity).
                    var length = Count < slots.Length ? slots.Length : Math.Min(capacity, Math.Max(InitialSlots, slots.Length * 2));
                    var copy = new Entry?[length];
                    Array.Copy(slots, copy, Count);
                    copy[Count] = entry;
                    slots = copy;
                }

                return (new State(ByKey.Add(entry.Key, entry), slots, Count + 1, version), null);
            }

            var victim = ChooseVictim();
            var replaced = new Entry?[Slots.Length];
            Array.Copy(Slots, replaced, Count);
            var evicted = replaced[victim]!;
            replaced[victim] = entry;
            return (new State(ByKey.Remove(evicted.Key).Add(entry.Key, entry), replaced, Count, version, evicted), evicted);
        }

        /// <summary>One scan of the full map: the lowest eviction rank (idle and empty, idle, busy), then the oldest use.</summary>
        private int ChooseVictim()
        {
            var best = 0;
            var bestRank = int.MaxValue;
            var bestUse = long.MaxValue;
            for (var i = 0; i < Count; i++)
            {
                var candidate = Slots[i]!;
                var rank = candidate.Coordinator.EvictionRank;
                var use = candidate.LastUse;
                if (rank < bestRank || (rank == bestRank && use < bestUse))
                {
                    (best, bestRank, bestUse) = (i, rank, use);
                }
            }

            return best;
        }
    }
}
