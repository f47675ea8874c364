using System.Diagnostics.Metrics;
using LockFree.Auth.Diagnostics;
using LockFree.Auth.Tests.CrossAppAccess;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.State;

/// <summary>
/// What each transition of the coordinator does besides its compare-and-swap, on the sequential paths the unit suite
/// reaches (the racing ones are the Coyote suite's): the timer of a replaced snapshot is disposed (I-S5, "Timers" in
/// AuthCoordinator), invalidations, discards and evictions are counted and logged exactly once, an InvalidateAll is
/// settled lazily and opens one generation, an evicted coordinator forwards, a stale timer callback is ignored, and the
/// null results of user delegates fail with their own message. Written for the survivors of the State/ mutation run
/// (spec/mutation-testing.md).
/// </summary>
public sealed class CoordinatorSideEffectTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private readonly FakeTimeProvider _fake = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    // ---- Timers: whoever replaces a snapshot disposes the timer it carried ----

    [Fact]
    public async Task Invalidate_DisposesTheTimerOfTheDroppedValue()
    {
        var (strict, acquirer, coordinator) = NewTimed();
        using var _ = coordinator;
        await WarmAsync(coordinator, acquirer);
        Assert.Equal(1, strict.Live);

        coordinator.Invalidate();
        Assert.Equal(0, strict.Live);
    }

    [Fact]
    public async Task ConditionalInvalidate_DisposesTheTimerAndLogsTheInvalidation()
    {
        var logs = new CapturingLoggerFactory();
        var (strict, acquirer, coordinator) = NewTimed(new AuthCoordinatorOptions { LoggerFactory = logs });
        using var _ = coordinator;
        var token = await WarmAsync(coordinator, acquirer);
        var before = logs.Messages.Count(static m => m.Contains("invalidated; generation", StringComparison.Ordinal));

        Assert.True(coordinator.Invalidate(static (t, rejected) => ReferenceEquals(t, rejected), token));
        Assert.Equal(0, strict.Live);
        Assert.Equal(1, coordinator.Statistics.Invalidations);
        Assert.Equal(before + 1, logs.Messages.Count(static m => m.Contains("invalidated; generation", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ExpiryByTheTimer_RetiresTheValueAndDisposesItsTimer()
    {
        var (strict, acquirer, coordinator) = NewTimed();
        using var _ = coordinator;
        var token = await WarmAsync(coordinator, acquirer);

        for (var minute = 0; minute < 61; minute++)
        {
            _fake.Advance(TimeSpan.FromMinutes(1)); // the clamped timer re-arms once a minute until UsableUntil
        }

        Assert.Null(coordinator.Current.Value);
        Assert.Same(token, coordinator.Current.Retired);
        Assert.Equal(0, strict.Live);
    }

    [Fact]
    public async Task Eviction_DropsTheValueAndDisposesItsTimer()
    {
        var strict = new StrictTimerProvider(_fake);
        var acquirers = new Dictionary<string, TestAcquirer> { ["a"] = new(_fake, Hour), ["b"] = new(_fake, Hour) };
        using var map = new AuthCoordinatorMap<string, TokenContainer>(
            key => new AuthCoordinator<TokenContainer>(acquirers[key].AcquireAsync, static t => t.ExpiresAt, strict), capacity: 1);
        var a = map.For("a");
        await WarmAsync(a, acquirers["a"]);
        Assert.Equal(1, strict.Live);

        map.For("b"); // evicts a
        Assert.True(a.IsEvicted);
        Assert.Equal(0, strict.Live);
    }

    // ---- InvalidateAll: settled lazily, counted once per coordinator that held something ----

    [Fact]
    public async Task InvalidateAll_FirstTouchDropsTheValueDisposesItsTimerAndCountsOnlyWhereSomethingWasHeld()
    {
        var strict = new StrictTimerProvider(_fake);
        var acquirers = new Dictionary<string, TestAcquirer> { ["held"] = new(_fake, Hour), ["empty"] = new(_fake, Hour), ["new"] = new(_fake, Hour) };
        using var map = new AuthCoordinatorMap<string, TokenContainer>(
            key => new AuthCoordinator<TokenContainer>(acquirers[key].AcquireAsync, static t => t.ExpiresAt, strict), capacity: 3);
        var held = map.For("held");
        await WarmAsync(held, acquirers["held"]);
        var empty = map.For("empty");
        Assert.Equal(1, strict.Live);

        map.InvalidateAll();
        Assert.Null(held.Current.Value); // first touch settles it
        Assert.Equal(0, strict.Live);
        Assert.Equal(1, held.Statistics.Invalidations);
        Assert.Null(empty.Current.Value);
        Assert.Equal(0, empty.Statistics.Invalidations); // it held nothing: no invalidation to count

        // A coordinator created after InvalidateAll holds nothing of the old epoch: its first use counts no invalidation.
        var fresh = map.For("new");
        var waiter = fresh.GetAsync();
        acquirers["new"].Last.Complete();
        await waiter.Within();
        Assert.Equal(0, fresh.Statistics.Invalidations);
    }

    [Fact]
    public async Task InvalidateAll_WhileAcquiring_ResultReturnedButDiscardedOnce()
    {
        var acquirer = new TestAcquirer(_fake, Hour);
        using var map = new AuthCoordinatorMap<string, TokenContainer>(_ => acquirer.CreateCoordinator(), capacity: 2);
        var coordinator = map.For("a");
        var waiter = coordinator.GetAsync();

        map.InvalidateAll();
        var token = acquirer.Last.Complete();

        Assert.Same(token, await waiter.Within());
        Assert.Null(coordinator.Current.Value);
        Assert.Equal(1, coordinator.Statistics.Discarded);
        Assert.Equal(0, coordinator.Statistics.Published);
    }

    [Fact]
    public async Task InvalidateAfterInvalidateAll_OpensExactlyOneGenerationInTheCurrentEpoch()
    {
        var acquirer = new TestAcquirer(_fake, Hour);
        using var map = new AuthCoordinatorMap<string, TokenContainer>(_ => acquirer.CreateCoordinator(), capacity: 2);
        var coordinator = map.For("a");
        await WarmAsync(coordinator, acquirer);
        Assert.Equal(1, coordinator.Current.Generation);

        map.InvalidateAll();
        coordinator.Invalidate(); // replaces the stale snapshot itself: the result must already be of the current epoch
        Assert.Equal(2, coordinator.Current.Generation);

        var waiter = coordinator.GetAsync();
        Assert.Equal(3, acquirer.Last.Context.Generation);
        acquirer.Last.Complete();
        await waiter.Within();
    }

    // ---- Eviction ----

    [Fact]
    public async Task Evict_CountedAndLoggedOnceOnTheFirstCall_PublishAfterItDiscardedAndLogged()
    {
        var logs = new CapturingLoggerFactory();
        using var meter = new Meter("LockFree.Auth.Tests.CoordinatorSideEffects." + Guid.NewGuid().ToString("N"));
        using var evictions = new CounterProbe(meter, "lockfree.auth.keys.evicted");
        var acquirer = new TestAcquirer(_fake, Hour);
        using var successor = acquirer.CreateCoordinator();
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, _fake,
            new AuthCoordinatorOptions { Name = "evicted", LoggerFactory = logs, Instruments = new AuthInstruments(meter) });
        var waiter = coordinator.GetAsync(); // an acquisition in flight when the map evicts the coordinator
        var gate = acquirer.Last;

        var home = new FixedHome(successor);
        coordinator.Evict(home);
        Assert.Equal(1, evictions.Sum);
        Assert.Equal(1, logs.Messages.Count(static m => m.Contains("was evicted", StringComparison.Ordinal)));

        coordinator.Evict(home); // idempotent: the map's other operations may finish the same eviction again
        Assert.Equal(1, evictions.Sum);
        Assert.Equal(1, logs.Messages.Count(static m => m.Contains("was evicted", StringComparison.Ordinal)));

        var token = gate.Complete();
        Assert.Same(token, await waiter.Within()); // its waiters still get the result ...
        Assert.Null(coordinator.Current.Value); // ... which is not cached here
        Assert.Equal(1, coordinator.Statistics.Discarded);
        Assert.Contains(logs.Messages, static m => m.Contains("returned to its waiters but not cached", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FullMapAfterInvalidateAll_EvictsTheKeyStillHoldingAStaleValueBeforeALessRecentlyUsedCurrentOne()
    {
        // After InvalidateAll a value of the old epoch counts as nothing (I11), even before its coordinator is touched:
        // the map evicts that key first, although LRU alone would pick the other one.
        var acquirers = new Dictionary<string, TestAcquirer> { ["current"] = new(_fake, Hour), ["stale"] = new(_fake, Hour), ["new"] = new(_fake, Hour) };
        using var map = new AuthCoordinatorMap<string, TokenContainer>(key => acquirers[key].CreateCoordinator(), capacity: 2);
        var current = map.For("current");
        await WarmAsync(current, acquirers["current"]);
        var stale = map.For("stale"); // used after "current": LRU would keep it
        await WarmAsync(stale, acquirers["stale"]);

        map.InvalidateAll();
        await WarmAsync(current, acquirers["current"]); // through the reference: a value of the new epoch, no LRU touch

        map.For("new");
        Assert.True(stale.IsEvicted, "The key holding only a value of the old epoch must be evicted first.");
        Assert.False(current.IsEvicted);
        Assert.NotNull(current.Current.Value);
    }

    [Fact]
    public async Task EvictedCoordinatorKeptByACaller_UnconditionalInvalidateReachesTheKeysCurrentCoordinator()
    {
        var acquirer = new TestAcquirer(_fake, Hour);
        using var map = new AuthCoordinatorMap<string, TokenContainer>(_ => acquirer.CreateCoordinator(), capacity: 1);
        var held = map.For("a");
        await WarmAsync(held, acquirer);
        map.For("b"); // evicts a
        var forwarded = held.GetAsync(); // re-adds a in a new coordinator
        acquirer.Last.Complete();
        await forwarded.Within();
        var current = map.TryGet("a");
        Assert.NotNull(current);
        Assert.NotNull(current.Current.Value);

        held.Invalidate();
        Assert.Null(current.Current.Value);
        Assert.Null(current.Current.Retired); // dropped, not retired: an unconditional invalidation
    }

    [Fact]
    public async Task MapFactoryReturningAnEvictedCoordinator_GetFailsWithAMessageSayingSo()
    {
        var acquirer = new TestAcquirer(_fake, Hour);
        AuthCoordinator<TokenContainer>? only = null;
        using var map = new AuthCoordinatorMap<string, TokenContainer>(_ => only ??= acquirer.CreateCoordinator(), capacity: 1);
        var coordinator = map.For("a");
        map.For("b"); // the factory hands out the same instance again, and adding b evicts a: that very instance
        Assert.True(coordinator.IsEvicted);

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => coordinator.GetAsync().Within());
        Assert.Contains("returned a coordinator it had already evicted", thrown.Message, StringComparison.Ordinal);
        Assert.Equal(0, acquirer.Started);
    }

    // ---- MayHold (the cross-app provider's "can this issued token still be served" check) ----

    [Fact]
    public async Task MayHold_OfAGeneration_OnlyThatAcquisitionInFlightOrTheMatchingValueCounts()
    {
        var acquirer = new TestAcquirer(_fake, Hour);
        var coordinator = acquirer.CreateCoordinator();
        Assert.False(coordinator.MayHold(static (_, _) => true, 0, 1)); // idle and empty: nothing to serve, nothing coming
        var first = coordinator.GetAsync();
        var g1 = coordinator.Current.Pending!.Generation;
        Assert.True(coordinator.MayHold(static (_, _) => false, 0, g1));
        Assert.False(coordinator.MayHold(static (_, _) => false, 0, g1 - 1)); // an older acquisition can never publish

        coordinator.Invalidate(); // g1 still completes for its waiter, but can no longer publish
        var second = coordinator.GetAsync();
        var g2 = coordinator.Current.Pending!.Generation;
        Assert.NotEqual(g1, g2);
        Assert.False(coordinator.MayHold(static (_, _) => false, 0, g1));
        Assert.True(coordinator.MayHold(static (_, _) => false, 0, g2));

        acquirer.Gates[0].Complete();
        var token = acquirer.Last.Complete();
        await first.Within();
        Assert.Same(token, await second.Within());
        Assert.True(coordinator.MayHold(static (t, x) => ReferenceEquals(t, x), token, g1)); // held: whatever the generation
        Assert.False(coordinator.MayHold(static (t, x) => !ReferenceEquals(t, x), token, g2)); // nothing in flight any more

        coordinator.Dispose();
        Assert.False(coordinator.MayHold(static (_, _) => true, 0, g2));
    }

    // ---- Timer callbacks and refresh-ahead ----

    [Fact]
    public async Task StaleTimerCallback_ForAnotherValueGeneration_IsIgnored()
    {
        // The wall clock jumps past expiry without firing the timer; a callback armed for another value generation
        // (it fired after its snapshot was replaced) must not retire the current value; the current one does.
        var stepping = new SteppingTimeProvider(_fake);
        var acquirer = new TestAcquirer(_fake, Hour);
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, stepping);
        var token = await WarmAsync(coordinator, acquirer);
        var generation = coordinator.Current.ValueGeneration;
        stepping.Step(TimeSpan.FromHours(2));

        coordinator.OnTimer(generation + 1);
        coordinator.OnTimer(generation - 1);
        Assert.Same(token, coordinator.Current.Value);

        coordinator.OnTimer(generation);
        Assert.Null(coordinator.Current.Value);
        Assert.Same(token, coordinator.Current.Retired);
    }

    [Fact]
    public async Task RefreshAhead_BackgroundRefreshIsLoggedAsBackground()
    {
        var logs = new CapturingLoggerFactory();
        var acquirer = new TestAcquirer(_fake, Hour);
        using var coordinator = acquirer.CreateCoordinator(new AuthCoordinatorOptions { LoggerFactory = logs, RefreshAheadWindow = TimeSpan.FromMinutes(10) });
        var token = await WarmAsync(coordinator, acquirer);
        Assert.Contains(logs.Messages, static m => m.Contains("generation 1 started (background refresh: False)", StringComparison.Ordinal));

        for (var minute = 0; minute < 51; minute++)
        {
            _fake.Advance(TimeSpan.FromMinutes(1)); // past RefreshAt (50 minutes), before UsableUntil
        }

        Assert.Same(token, await coordinator.GetAsync().Within()); // served while the refresh starts in the background
        Assert.Equal(2, acquirer.Started);
        Assert.True(acquirer.Last.Context.IsBackgroundRefresh);
        Assert.Contains(logs.Messages, static m => m.Contains("generation 2 started (background refresh: True)", StringComparison.Ordinal));
        acquirer.Last.Complete();
    }

    // ---- Null results of user delegates ----

    [Fact]
    public async Task AcquisitionDelegateReturningNull_FailsWithAMessageSayingSo()
    {
        using var coordinator = new AuthCoordinator<TokenContainer>(static (_, _) => Task.FromResult<TokenContainer>(null!));
        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => coordinator.GetAsync().Within());
        Assert.Equal("The acquisition delegate returned null.", thrown.Message);
    }

    [Fact]
    public void MapFactoryReturningNull_FailsWithAMessageSayingSo()
    {
        using var map = new AuthCoordinatorMap<string, TokenContainer>(static _ => null!);
        var thrown = Assert.Throws<InvalidOperationException>(() => map.For("a"));
        Assert.Equal("The coordinator factory returned null.", thrown.Message);
    }

    [Fact]
    public void ClockCheckIntervalOutOfRange_MessageSaysWhatIsAllowed()
    {
        foreach (var interval in new[] { TimeSpan.Zero, AuthCoordinatorOptions.MaxTimerDueTime + TimeSpan.FromMilliseconds(1) })
        {
            var thrown = Assert.Throws<ArgumentOutOfRangeException>(() =>
                new AuthCoordinator<TokenContainer>(static (_, _) => Task.FromResult(new TokenContainer { AccessToken = "a" }), options: new AuthCoordinatorOptions { ClockCheckInterval = interval }));
            Assert.Equal("ClockCheckInterval", thrown.ParamName);
            Assert.StartsWith("ClockCheckInterval must be positive and at most MaxTimerDueTime", thrown.Message, StringComparison.Ordinal);
        }
    }

    private (StrictTimerProvider Strict, TestAcquirer Acquirer, AuthCoordinator<TokenContainer> Coordinator) NewTimed(AuthCoordinatorOptions? options = null)
    {
        var strict = new StrictTimerProvider(_fake);
        var acquirer = new TestAcquirer(_fake, Hour);
        return (strict, acquirer, new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, strict, options));
    }

    private static async Task<TokenContainer> WarmAsync(AuthCoordinator<TokenContainer> coordinator, TestAcquirer acquirer)
    {
        var waiter = coordinator.GetAsync();
        var token = acquirer.Last.Complete();
        Assert.Same(token, await waiter.Within());
        return token;
    }

    private sealed class FixedHome(AuthCoordinator<TokenContainer> successor) : ICoordinatorHome<TokenContainer>
    {
        public AuthCoordinator<TokenContainer> Resolve() => successor;

        public AuthCoordinator<TokenContainer>? TryResolveExisting() => successor;
    }

    /// <summary>Sums one counter of one meter.</summary>
    private sealed class CounterProbe : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _sum;

        public CounterProbe(Meter meter, string instrument)
        {
            _listener.InstrumentPublished = (i, l) =>
            {
                if (ReferenceEquals(i.Meter, meter) && i.Name == instrument)
                {
                    l.EnableMeasurementEvents(i);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _sum, value));
            _listener.Start();
        }

        public long Sum => Interlocked.Read(ref _sum);

        public void Dispose() => _listener.Dispose();
    }
}
