using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace LockFree.Auth.Tests.State;

/// <summary>
/// I8 with a bounded map: capacity, eviction order (idle and empty, then least recently used, busy last), evicted
/// coordinators retired without cancelling their waiters and forwarding later calls, disposal (I8, spec section
/// "Bounded maps"), and the retained memory of a key flood.
/// </summary>
public sealed class AuthCoordinatorMapTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ConcurrentDictionary<string, TestAcquirer> _acquirers = new();

    [Fact]
    public void Capacity_NotPositive_Rejected_DefaultIs64()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AuthCoordinatorMap<string, TokenContainer>(_ => throw new InvalidOperationException(), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AuthCoordinatorMap<string, TokenContainer>(_ => throw new InvalidOperationException(), -1));
        using var map = new AuthCoordinatorMap<string, TokenContainer>(_ => throw new InvalidOperationException());
        Assert.Equal(64, map.Capacity);
        Assert.Equal(AuthCoordinatorMap<string, TokenContainer>.DefaultCapacity, map.Capacity);
    }

    [Fact]
    public async Task FullMap_EvictsAnIdleKeyWithoutValueFirst()
    {
        using var map = NewMap(capacity: 3);
        var a = await WarmAsync(map, "a").Within();
        var failed = map.For("b").GetAsync();
        _acquirers["b"].Last.Fail(new InvalidOperationException("b failed"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => failed.Within());
        var c = await WarmAsync(map, "c").Within();
        var b = map.For("b"); // the most recently used, but it holds no value

        map.For("d");

        Assert.True(b.IsEvicted);
        Assert.Equal(["a", "c", "d"], Keys(map));
        Assert.Same(a, await map.For("a").GetAsync().Within());
        Assert.Same(c, await map.For("c").GetAsync().Within());
    }

    [Fact]
    public async Task FullMap_AllIdleWithValues_EvictsTheLeastRecentlyUsedAndDropsItsValueAndTimer()
    {
        using var map = NewMap(capacity: 3);
        await WarmAsync(map, "a").Within();
        await WarmAsync(map, "b").Within();
        await WarmAsync(map, "c").Within();
        map.For("a"); // a is now more recent than b, which was added before c and not used since
        map.For("c");
        var b = map.TryGet("b")!; // TryGet does not count as a use

        map.For("d"); // b: the least recently used

        Assert.True(b.IsEvicted);
        Assert.Null(b.Current.Value);
        Assert.Null(b.Current.Timer);
        Assert.Equal(["a", "c", "d"], Keys(map));
        Assert.Equal(3, map.Count);
    }

    [Fact]
    public async Task FullMap_PrefersAnIdleKeyOverOneWithAnAcquisitionInFlight()
    {
        using var map = NewMap(capacity: 2);
        var busy = map.For("busy");
        var waiter = busy.GetAsync(); // stays pending: the least recently used key
        await WarmAsync(map, "idle").Within();
        map.For("idle");

        map.For("new");

        Assert.False(busy.IsEvicted);
        Assert.Null(map.TryGet("idle"));
        Assert.False(waiter.IsCompleted);
    }

    [Fact]
    public async Task FullMap_AllBusy_EvictedAcquisitionIsNotCancelledItsWaitersGetTheResultWhichIsNotCached()
    {
        using var map = NewMap(capacity: 2);
        var oldest = map.For("a");
        using var cts = new CancellationTokenSource();
        var waiters = new[] { oldest.GetAsync(), oldest.GetAsync(cts.Token) };
        var gate = _acquirers["a"].Last;
        _ = map.For("b").GetAsync();

        map.For("c"); // both busy: a, the least recently used, is evicted

        Assert.True(oldest.IsEvicted);
        Assert.False(gate.Token.IsCancellationRequested); // never cancelled under its waiters
        var token = gate.Complete();
        foreach (var waiter in waiters) { Assert.Same(token, await waiter.Within()); }
        Assert.Null(oldest.Current.Value); // not cached in the evicted coordinator...
        Assert.Null(oldest.Current.Timer); // ...and nothing scheduled for it
        Assert.False(oldest.Current.IsAcquiring);
        Assert.Equal(1, oldest.Statistics.Discarded);
    }

    [Fact]
    public async Task EvictedCoordinatorKeptByACaller_ForwardsGetAndInvalidateToTheKeysCurrentCoordinator()
    {
        using var map = NewMap(capacity: 1);
        var held = map.For("a"); // a provider may keep this reference across calls
        var first = await WarmAsync(map, "a").Within();
        map.For("b"); // evicts a

        Assert.True(held.IsEvicted);
        var forwarded = held.GetAsync(); // re-adds a (evicting b) and starts its acquisition there
        var current = map.TryGet("a");
        Assert.NotNull(current);
        Assert.NotSame(held, current);
        var second = _acquirers["a"].Last.Complete();
        Assert.Same(second, await forwarded.Within());
        Assert.NotSame(first, second);
        Assert.Same(second, await held.GetAsync().Within()); // served from the current coordinator's cache
        Assert.Null(held.Current.Value); // the evicted one stays empty

        Assert.True(held.Invalidate(static (t, rejected) => ReferenceEquals(t, rejected), second)); // a 401 for that token
        Assert.Null(current.Current.Value);
        Assert.Same(second, current.Current.Retired);

        map.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => held.GetAsync().Within());
    }

    [Fact]
    public void EvictedCoordinator_IsGarbageOnceUnreferenced_NoTimerOrMapKeepsItAlive()
    {
        using var map = NewMap(capacity: 1);
        var evicted = EvictAWarmKey(map);
        for (var i = 0; i < 5 && evicted.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(evicted.IsAlive, "The evicted coordinator is still reachable (a timer or the map keeps it alive).");
    }

    [Fact]
    public void For_ExistingKey_AllocatesNothing()
    {
        using var map = NewMap(capacity: 8);
        for (var i = 0; i < 8; i++) { map.For("k" + i); }
        var key = "k3";
        for (var i = 0; i < 100; i++) { _ = map.For(key); }

        // Three rounds, the least counts: an allocation in For shows in every round (10,000 calls), while the runtime
        // now and then allocates once on this thread for itself (tiering, a type's first use), which is not For's.
        AuthCoordinator<TokenContainer>? last = null;
        var rounds = new long[3];
        for (var round = 0; round < rounds.Length; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 10_000; i++) { last = map.For(key); }
            rounds[round] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.True(rounds.Min() == 0, $"For allocated in every round: {string.Join(", ", rounds)} B per 10,000 calls");
        Assert.Same(map.TryGet(key), last);
    }

    [Fact]
    public void ConcurrentFirstUsesOverCapacity_NeverMoreThanCapacityAndOneCoordinatorPerKey()
    {
        const int capacity = 16;
        var created = new ConcurrentBag<AuthCoordinator<TokenContainer>>();
        using var map = new AuthCoordinatorMap<int, TokenContainer>(
            _ =>
            {
                var coordinator = new TestAcquirer(_time, Hour).CreateCoordinator();
                created.Add(coordinator);
                return coordinator;
            },
            capacity);
        var returned = new ConcurrentBag<(int Key, AuthCoordinator<TokenContainer> Coordinator)>();

        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var key = (i * 7919) % 200;
            returned.Add((key, map.For(key)));
            Assert.True(map.Count <= capacity);
        });

        var entries = map.Entries.ToList();
        Assert.Equal(capacity, entries.Count);
        Assert.Equal(capacity, entries.Select(e => e.Key).Distinct().Count());
        Assert.Equal(capacity, entries.Select(e => e.Value).Distinct().Count());
        Assert.All(entries, e => Assert.False(e.Value.IsEvicted));
        foreach (var (key, coordinator) in returned)
        {
            // Every coordinator handed out is the key's current one, or was evicted (and forwards to it).
            Assert.True(ReferenceEquals(map.TryGet(key), coordinator) || coordinator.IsEvicted, $"Key {key} was handed a coordinator that is neither current nor evicted.");
        }

        // Coordinators made by racing first uses that lost their CAS were disposed, never handed out.
        var handedOut = returned.Select(r => r.Coordinator).ToHashSet();
        Assert.All(created.Where(c => !handedOut.Contains(c)), c => Assert.True(c.IsDisposed || map.Entries.Any(e => ReferenceEquals(e.Value, c))));
    }

    // ---- lifecycle (8) ----

    [Fact]
    public void Dispose_ThenForAndInvalidateAll_ThrowObjectDisposed()
    {
        var map = NewMap(capacity: 4);
        var a = map.For("a");
        map.Dispose();
        map.Dispose(); // idempotent

        Assert.True(a.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => map.For("a"));
        Assert.Throws<ObjectDisposedException>(() => map.For("new"));
        Assert.Throws<ObjectDisposedException>(map.InvalidateAll);
        Assert.Empty(map.Entries);
        Assert.Equal(0, map.Count);
    }

    [Fact]
    public async Task ForRacingDispose_EveryCoordinatorTheFactoryMadeEndsDisposed()
    {
        for (var round = 0; round < 20; round++)
        {
            var created = new ConcurrentBag<AuthCoordinator<TokenContainer>>();
            var map = new AuthCoordinatorMap<int, TokenContainer>(
                _ =>
                {
                    var coordinator = new TestAcquirer(_time, Hour).CreateCoordinator();
                    created.Add(coordinator);
                    return coordinator;
                },
                capacity: 10_000);
            using var start = new Barrier(3);
            var adders = Enumerable.Range(0, 2).Select(t => Task.Run(() =>
            {
                start.SignalAndWait();
                for (var i = 0; i < 500; i++)
                {
                    try { map.For((t * 1000) + i); }
                    catch (ObjectDisposedException) { return; }
                }
            })).ToArray();
            start.SignalAndWait();
            map.Dispose();
            await Task.WhenAll(adders).Within();

            Assert.All(created, c => Assert.True(c.IsDisposed, "A coordinator created by a For racing Dispose was leaked."));
            Assert.Throws<ObjectDisposedException>(() => map.For(-1));
        }
    }

    [Fact]
    public async Task InvalidateAll_InvalidatesEveryKeyWithoutEnumerating()
    {
        using var map = NewMap(capacity: 4);
        await WarmAsync(map, "a").Within();
        await WarmAsync(map, "b").Within();

        map.InvalidateAll();

        Assert.All(map.Entries, e => Assert.Null(e.Value.Current.Value));
        Assert.Equal(2, map.Entries.Count());
    }

    [Fact]
    public async Task InvalidateAll_AcquisitionInFlight_ResultServedToItsWaitersButNotCached()
    {
        using var map = NewMap(capacity: 4);
        var waiter = map.For("a").GetAsync();

        map.InvalidateAll();
        var old = _acquirers["a"].Last.Complete();

        Assert.Same(old, await waiter.Within()); // its own waiter still gets it (I3)
        Assert.Null(map.For("a").Current.Value);
        var next = map.For("a").GetAsync();
        Assert.False(next.IsCompleted, "A value acquired before InvalidateAll was served after it returned.");
        Assert.Equal(2, _acquirers["a"].Started);
        var fresh = _acquirers["a"].Last.Complete();
        Assert.Same(fresh, await next.Within());
    }

    [Fact]
    public async Task InvalidateAll_RacingPublication_OldValueNeverServedAfterwards()
    {
        // I11: InvalidateAll on one thread, the acquisition's publication on another, released together. Whichever wins
        // the race, once InvalidateAll returned the value acquired before it is never served again.
        for (var round = 0; round < 300; round++)
        {
            using var map = NewMap(capacity: 4);
            var key = "k" + round;
            var waiter = map.For(key).GetAsync();
            var gate = _acquirers[key].Last;
            using var start = new Barrier(2);
            TokenContainer? old = null;
            var publisher = Task.Factory.StartNew(() => { start.SignalAndWait(); old = gate.Complete(); }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var invalidator = Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait();
                    map.InvalidateAll();

                    // After InvalidateAll returned: whatever the interleaving, the old value is not served.
                    var afterwards = map.For(key).GetAsync();
                    return afterwards.IsCompletedSuccessfully ? afterwards.Result : null;
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);

            var served = await invalidator.Within();
            await publisher.Within();
            Assert.Same(old, await waiter.Within());
            Assert.Null(served); // nothing cached: a new acquisition was started
            Assert.Null(map.For(key).Current.Value);
            Assert.Equal(2, _acquirers[key].Started);
        }
    }

    [Fact]
    public async Task InvalidateAll_AllocatesNothingAndIsIndependentOfTheNumberOfKeys()
    {
        using var map = NewMap(capacity: 64);
        for (var i = 0; i < 64; i++)
        {
            await WarmAsync(map, "key" + i).Within();
        }

        map.InvalidateAll(); // JIT
        Assert.Equal(0, LeastAllocated(static m => m.InvalidateAll(), map));
        Assert.All(map.Entries, e => Assert.Null(e.Value.Current.Value));
        Assert.Equal(64, map.Entries.Count());
    }

    [Fact]
    public async Task InvalidateAll_ThenPerKeyInvalidate_BothHold()
    {
        using var map = NewMap(capacity: 4);
        var first = await WarmAsync(map, "a").Within();
        map.InvalidateAll();
        map.For("a").Invalidate();
        var second = await WarmAsync(map, "a").Within();

        Assert.NotSame(first, second);
        Assert.Same(second, await map.For("a").GetAsync().Within());
        Assert.Equal(2, _acquirers["a"].Started);
    }

    /// <summary>The least bytes allocated on this thread by 100 calls of <paramref name="action"/>, over five rounds.</summary>
    internal static long LeastAllocated<TState>(Action<TState> action, TState state)
    {
        var least = long.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 100; i++)
            {
                action(state);
            }

            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least;
    }

    // ---- helpers ----

    private AuthCoordinatorMap<string, TokenContainer> NewMap(int capacity) =>
        new(key => _acquirers.GetOrAdd(key, _ => new TestAcquirer(_time, Hour)).CreateCoordinator(new AuthCoordinatorOptions { Name = "map-test-" + key }), capacity);

    private async Task<TokenContainer> WarmAsync(AuthCoordinatorMap<string, TokenContainer> map, string key)
    {
        var waiter = map.For(key).GetAsync();
        var token = _acquirers[key].Last.Complete();
        Assert.Same(token, await waiter.Within());
        return token;
    }

    /// <summary>Synchronous and not inlined, so no local of the test (or an async state machine) keeps the coordinator alive.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private WeakReference EvictAWarmKey(AuthCoordinatorMap<string, TokenContainer> map)
    {
        var coordinator = map.For("a");
        var served = coordinator.GetAsync();
        _acquirers["a"].Last.Complete();
        Assert.True(served.IsCompletedSuccessfully);
        Assert.NotNull(coordinator.Current.Timer);
        map.For("b");
        Assert.True(coordinator.IsEvicted);
        _acquirers.TryRemove("a", out _);
        return new WeakReference(coordinator);
    }

    private static List<string> Keys(AuthCoordinatorMap<string, TokenContainer> map) =>
        [.. map.Entries.Select(e => e.Key).Order(StringComparer.Ordinal)];
}

/// <summary>The retained-memory measurement runs alone: other tests allocating in parallel would blur the heap size.</summary>
[CollectionDefinition(nameof(MemoryMeasurements), DisableParallelization = true)]
public sealed class MemoryMeasurements;

[Collection(nameof(MemoryMeasurements))]
public sealed class AuthCoordinatorMapMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void TenThousandDistinctKeysThroughCapacity64_RetainedMemoryStaysBounded()
    {
        const int keys = 10_000;
        const int capacity = 64;
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var map = new AuthCoordinatorMap<int, TokenContainer>(
            key => new AuthCoordinator<TokenContainer>((_, _) => Task.FromResult(RealisticToken(key, time)), static t => t.ExpiresAt, time),
            capacity);

        var before = Retained();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < keys; i++)
        {
            var served = map.For(i).GetAsync();
            Assert.True(served.IsCompletedSuccessfully);
        }

        watch.Stop();
        var after = Retained();
        var growthMiB = (after - before) / (1024.0 * 1024.0);
        output.WriteLine($"{keys:N0} distinct keys through a map of capacity {capacity} (TokenContainer with two 1 KB-character tokens, armed FakeTimeProvider timer):");
        output.WriteLine($"retained before {before / (1024.0 * 1024.0):F2} MiB, after {after / (1024.0 * 1024.0):F2} MiB, growth {growthMiB:F2} MiB; {watch.Elapsed.TotalMilliseconds / keys * 1000:F1} us per new key");

        Assert.Equal(capacity, map.Count);
        Assert.All(map.Entries, e => Assert.NotNull(e.Value.Current.Timer));
        Assert.True(growthMiB < 16, $"Retained memory grew by {growthMiB:F2} MiB for {keys} keys through a map of capacity {capacity}.");
        GC.KeepAlive(map);
    }

    internal static TokenContainer RealisticToken(int key, TimeProvider time) => new()
    {
        AccessToken = new string((char)('a' + (key % 26)), 1024),
        RefreshToken = new string((char)('A' + (key % 26)), 1024),
        Scope = "mcp:tools mcp:resources",
        ObtainedAt = time.GetUtcNow(),
        ExpiresIn = TimeSpan.FromHours(1),
    };

    private static long Retained()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
