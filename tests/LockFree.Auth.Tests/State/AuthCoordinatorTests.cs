using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.State;

/// <summary>Invariants I1–I9 of spec/concurrency-contract.md on the real coordinator, deterministically.</summary>
public sealed class AuthCoordinatorTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private async Task<(TestAcquirer Acquirer, AuthCoordinator<TokenContainer> Coordinator, TokenContainer Token)> WarmAsync(TimeSpan? lifetime = null, AuthCoordinatorOptions? options = null)
    {
        var acquirer = new TestAcquirer(_time, lifetime ?? Hour);
        var coordinator = acquirer.CreateCoordinator(options);
        var pending = coordinator.GetAsync();
        var token = acquirer.Last.Complete();
        Assert.Same(token, await pending.Within());
        return (acquirer, coordinator, token);
    }

    // ---- I1 fast path ----

    [Fact]
    public async Task GetAsync_UsableCachedToken_ReturnsSameCompletedTaskWithoutAllocating()
    {
        var (acquirer, coordinator, token) = await WarmAsync().Within();
        using var owned = coordinator;

        var first = coordinator.GetAsync();
        Assert.True(first.IsCompletedSuccessfully);
        Assert.Same(token, first.ResultWithin());

        // Warm up, then measure: the fast path is one volatile read and returns the cached task.
        for (var i = 0; i < 100; i++) { _ = coordinator.GetAsync(); }
        var before = GC.GetAllocatedBytesForCurrentThread();
        Task<TokenContainer>? last = null;
        for (var i = 0; i < 10_000; i++) { last = coordinator.GetAsync(); }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Same(first, last);
        Assert.Equal(1, acquirer.Started);
    }

    [Fact]
    public async Task GetAsync_CancelledTokenOnFastPath_StillReturnsCachedToken()
    {
        var (_, coordinator, token) = await WarmAsync().Within();
        using var owned = coordinator;
        Assert.Same(token, await coordinator.GetAsync(new CancellationToken(canceled: true)).Within());
    }

    // ---- I2 one acquisition per generation ----

    [Fact]
    public async Task GetAsync_1024ConcurrentColdCallers_OneAcquisitionSameInstance()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        using var coordinator = acquirer.CreateCoordinator();

        var tasks = new Task<TokenContainer>[1024];
        Parallel.For(0, tasks.Length, i => tasks[i] = coordinator.GetAsync());
        Assert.All(tasks, t => Assert.False(t.IsCompleted));
        var token = acquirer.Last.Complete();

        var results = await Task.WhenAll(tasks).Within();
        Assert.Equal(1, acquirer.Started);
        Assert.All(results, r => Assert.Same(token, r));
        Assert.Equal(new AuthCoordinatorStatistics(1, 1023, 1, 0, 0, 0), coordinator.Statistics);
    }

    [Fact]
    public async Task GetAsync_CancellableColdCallers_ShareOneAcquisition()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        using var coordinator = acquirer.CreateCoordinator();
        using var cts = new CancellationTokenSource();

        var tasks = Enumerable.Range(0, 16).Select(_ => coordinator.GetAsync(cts.Token)).ToArray();
        var token = acquirer.Last.Complete();

        Assert.All(await Task.WhenAll(tasks).Within(), r => Assert.Same(token, r));
        Assert.Equal(1, acquirer.Started);
    }

    // ---- I3 publication by generation: invalidate wins ----

    [Fact]
    public async Task Invalidate_DuringInFlightAcquisition_ReturnsImmediatelyAndResultIsNotCached()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        using var coordinator = acquirer.CreateCoordinator();
        var waiter = coordinator.GetAsync();
        var generation = coordinator.Current.Generation;

        coordinator.Invalidate(); // synchronous: it cannot wait for the gate, which nobody completes yet

        Assert.False(waiter.IsCompleted);
        Assert.Equal(generation + 1, coordinator.Current.Generation);
        Assert.False(coordinator.Current.IsAcquiring);

        var stale = acquirer.Gates[0].Complete();
        Assert.Same(stale, await waiter.Within()); // its own waiters still get it...
        Assert.Null(coordinator.Current.Value); // ...but it is not cached over the invalidation

        var next = coordinator.GetAsync();
        Assert.Equal(2, acquirer.Started);
        var fresh = acquirer.Gates[1].Complete();
        Assert.Same(fresh, await next.Within());
        Assert.Same(fresh, coordinator.Current.Value);
        Assert.Equal(1, coordinator.Statistics.Discarded);
    }

    [Fact]
    public async Task Invalidate_WithCachedToken_NextCallAcquiresAgain()
    {
        var (acquirer, coordinator, token) = await WarmAsync().Within();
        using var owned = coordinator;

        coordinator.Invalidate();
        var next = coordinator.GetAsync();

        Assert.False(next.IsCompleted);
        Assert.Equal(2, acquirer.Started);
        Assert.NotSame(token, await CompleteLast(acquirer, next).Within());
    }

    // ---- I4 conditional invalidation ----

    [Fact]
    public async Task InvalidateIfRejected_StaleToken_DoesNothing()
    {
        var (acquirer, coordinator, first) = await WarmAsync().Within();
        using var owned = coordinator;
        Assert.True(Reject(coordinator, first.AccessToken));
        var second = await CompleteLast(acquirer, coordinator.GetAsync()).Within();

        Assert.False(Reject(coordinator, first.AccessToken)); // a late 401 for the old token
        Assert.Same(second, await coordinator.GetAsync().Within());
        Assert.Equal(2, acquirer.Started);
    }

    [Fact]
    public async Task InvalidateIfRejected_64CallersRejectSameToken_OneNewAcquisition()
    {
        var (acquirer, coordinator, first) = await WarmAsync().Within();
        using var owned = coordinator;

        var acted = new int[64];
        var retries = new Task<TokenContainer>[64];
        Parallel.For(0, 64, i =>
        {
            acted[i] = Reject(coordinator, first.AccessToken) ? 1 : 0;
            retries[i] = coordinator.GetAsync();
        });
        var second = acquirer.Last.Complete();

        Assert.Equal(1, acted.Sum());
        Assert.All(await Task.WhenAll(retries).Within(), r => Assert.Same(second, r));
        Assert.Equal(2, acquirer.Started);
    }

    [Fact]
    public async Task InvalidateIfRejected_DuringBackgroundRefresh_KeepsRefreshAndJoinsIt()
    {
        var (acquirer, coordinator, first) = await WarmAsync(TimeSpan.FromSeconds(100)).Within();
        using var owned = coordinator;
        _time.Advance(TimeSpan.FromSeconds(85)); // refresh-ahead is due from 80 s (20 % of 100 s)
        Assert.Same(first, await coordinator.GetAsync().Within()); // the first use inside the window starts it
        Assert.Equal(2, acquirer.Started);

        Assert.True(Reject(coordinator, first.AccessToken));
        var waiter = coordinator.GetAsync();
        var second = acquirer.Last.Complete();

        Assert.Same(second, await waiter.Within());
        Assert.Equal(2, acquirer.Started); // no third acquisition: the refresh in flight replaced the token
        Assert.Same(first, acquirer.Last.Context.Previous);
    }

    // ---- I5 failure ends the generation ----

    [Fact]
    public async Task GetAsync_AcquisitionFails_AllWaitersSeeSameExceptionNextCallRetriesOnce()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        using var coordinator = acquirer.CreateCoordinator();
        var waiters = Enumerable.Range(0, 32).Select(_ => coordinator.GetAsync()).ToArray();

        var failure = new InvalidOperationException("token endpoint said no");
        acquirer.Last.Fail(failure);

        foreach (var waiter in waiters)
        {
            Assert.Same(failure, await Assert.ThrowsAsync<InvalidOperationException>(() => waiter));
        }

        Assert.False(coordinator.Current.IsAcquiring);
        Assert.Null(coordinator.Current.Value);

        var retries = Enumerable.Range(0, 32).Select(_ => coordinator.GetAsync()).ToArray();
        Assert.Equal(2, acquirer.Started);
        var token = acquirer.Last.Complete();
        Assert.All(await Task.WhenAll(retries).Within(), r => Assert.Same(token, r));
        Assert.Equal(1, coordinator.Statistics.Failed);
    }

    [Fact]
    public async Task GetAsync_AcquisitionThrowsSynchronously_FailsWaitersAndRecovers()
    {
        var calls = 0;
        using var coordinator = new AuthCoordinator<TokenContainer>(
            (_, _) => ++calls == 1 ? throw new FormatException("bad") : Task.FromResult(new TokenContainer { AccessToken = "a" }),
            timeProvider: _time);

        await Assert.ThrowsAsync<FormatException>(() => coordinator.GetAsync());
        Assert.Equal("a", (await coordinator.GetAsync().Within()).AccessToken);
        Assert.Equal(2, calls);
    }

    // ---- I6 cancellation isolation ----

    [Fact]
    public async Task GetAsync_OneWaiterCancelled_OthersUnaffectedAndWorkContinues()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        using var coordinator = acquirer.CreateCoordinator();
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();

        var cancelled = coordinator.GetAsync(first.Token); // the installer
        var other = coordinator.GetAsync(second.Token);
        await first.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(acquirer.Last.Token.IsCancellationRequested);
        var token = acquirer.Last.Complete();
        Assert.Same(token, await other.Within());
        Assert.Equal(1, acquirer.Started);
        Assert.Same(token, coordinator.Current.Value);
    }

    [Fact]
    public async Task GetAsync_FirstCallerCancelledWithNonCancellableWaiter_OneAcquisition()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        using var coordinator = acquirer.CreateCoordinator();
        using var cts = new CancellationTokenSource();

        var firstCaller = coordinator.GetAsync(cts.Token);
        var waiters = Enumerable.Range(0, 64).Select(_ => coordinator.GetAsync()).ToArray();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => firstCaller);

        var token = acquirer.Last.Complete();
        Assert.All(await Task.WhenAll(waiters).Within(), r => Assert.Same(token, r));
        Assert.Equal(1, acquirer.Started);
    }

    [Fact]
    public async Task GetAsync_AllWaitersCancelled_AcquisitionCancelledAndNotCached()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        using var coordinator = acquirer.CreateCoordinator();
        using var a = new CancellationTokenSource();
        using var b = new CancellationTokenSource();

        var first = coordinator.GetAsync(a.Token);
        var second = coordinator.GetAsync(b.Token);
        var gate = acquirer.Last;
        await a.CancelAsync();
        Assert.False(gate.Token.IsCancellationRequested); // one waiter is left
        await b.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        Assert.True(gate.Token.IsCancellationRequested);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gate.Task);
        Assert.Null(coordinator.Current.Value);
        Assert.False(coordinator.Current.IsAcquiring);

        var next = coordinator.GetAsync();
        Assert.Equal(2, acquirer.Started);
        Assert.Equal("access-2", (await CompleteLast(acquirer, next).Within()).AccessToken);
    }

    [Fact]
    public async Task GetAsync_CallerArrivesAfterAllLeft_StartsFreshAcquisition()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        using var coordinator = acquirer.CreateCoordinator();
        acquirer.CancelIgnored = true; // the abandoned work does not stop promptly
        using var cts = new CancellationTokenSource();

        var abandoned = coordinator.GetAsync(cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);

        var fresh = coordinator.GetAsync();
        Assert.Equal(2, acquirer.Started);
        acquirer.Gates[0].Complete(); // the abandoned one finishes late: not cached
        var token = acquirer.Gates[1].Complete();
        Assert.Same(token, await fresh.Within());
        Assert.Same(token, coordinator.Current.Value);
    }

    // ---- I7 expiry, skew, refresh-ahead ----

    [Fact]
    public async Task GetAsync_InsideRefreshAheadWindow_ReturnsCachedTokenWhileOneBackgroundRefreshRuns()
    {
        var (acquirer, coordinator, first) = await WarmAsync(TimeSpan.FromSeconds(100)).Within();
        using var owned = coordinator;

        _time.Advance(TimeSpan.FromSeconds(79));
        Assert.True(coordinator.Current.IsFresh);
        Assert.Same(first, coordinator.Current.FreshValue);
        _time.Advance(TimeSpan.FromSeconds(1)); // 80 s: refresh-ahead is due (min(2 min, 20 %) before expiry)
        Assert.False(coordinator.Current.IsFresh);
        Assert.Equal(1, acquirer.Started); // the timer only marks it due

        Assert.Null(coordinator.Current.FreshValue); // peeking callers fall back to GetAsync...
        Assert.Same(first, coordinator.Current.Value);
        Assert.Same(first, await coordinator.GetAsync().Within()); // ...and the next caller starts it and is served at once
        Assert.Equal(2, acquirer.Started);
        Assert.True(acquirer.Last.Context.IsBackgroundRefresh);
        Assert.Same(first, acquirer.Last.Context.Previous);
        Assert.True(coordinator.Current.IsFresh);

        var during = Enumerable.Range(0, 16).Select(_ => coordinator.GetAsync()).ToArray();
        Assert.All(during, t => Assert.Same(first, t.ResultWithin()));
        Assert.Equal(2, acquirer.Started);

        var second = acquirer.Last.Complete();
        Assert.Same(second, await coordinator.GetAsync().Within());
    }

    [Fact]
    public async Task GetAsync_InsideSkewMargin_TokenCountsAsExpired()
    {
        var (acquirer, coordinator, first) = await WarmAsync(TimeSpan.FromSeconds(100),
            new AuthCoordinatorOptions { RefreshAheadWindow = TimeSpan.Zero, SkewMargin = TimeSpan.FromSeconds(5) }).Within();
        using var owned = coordinator;

        _time.Advance(TimeSpan.FromSeconds(94));
        Assert.Same(first, await coordinator.GetAsync().Within());
        _time.Advance(TimeSpan.FromSeconds(1)); // 95 s: inside the 5 s skew margin
        Assert.Null(coordinator.Current.Value);
        Assert.Same(first, coordinator.Current.Retired);

        var next = coordinator.GetAsync();
        Assert.False(next.IsCompleted);
        Assert.Equal(2, acquirer.Started);
        Assert.Same(first, acquirer.Last.Context.Previous);
        Assert.NotSame(first, await CompleteLast(acquirer, next).Within());
    }

    [Fact]
    public async Task IdleClient_PastRefreshAndExpiry_StartsNoBackgroundWork()
    {
        var (acquirer, coordinator, first) = await WarmAsync(TimeSpan.FromSeconds(100)).Within();
        using var owned = coordinator;

        _time.Advance(TimeSpan.FromHours(5));

        Assert.Equal(1, acquirer.Started);
        Assert.Null(coordinator.Current.Value);
        Assert.Same(first, coordinator.Current.Retired);
        Assert.Null(coordinator.Current.FindInvariantViolation());
    }

    [Fact]
    public async Task GetAsync_BackgroundRefreshNotDoneAtExpiry_CallersJoinItNotAnother()
    {
        var (acquirer, coordinator, _) = await WarmAsync(TimeSpan.FromSeconds(100)).Within();
        using var owned = coordinator;
        _time.Advance(TimeSpan.FromSeconds(80));
        _ = await coordinator.GetAsync().Within();
        Assert.Equal(2, acquirer.Started);
        _time.Advance(TimeSpan.FromSeconds(11)); // past usable-until (90 s)

        var waiters = Enumerable.Range(0, 8).Select(_ => coordinator.GetAsync()).ToArray();
        Assert.All(waiters, w => Assert.False(w.IsCompleted));
        var second = acquirer.Last.Complete();
        Assert.All(await Task.WhenAll(waiters).Within(), r => Assert.Same(second, r));
        Assert.Equal(2, acquirer.Started);
    }

    [Fact]
    public async Task GetAsync_BackgroundRefreshFails_KeepsServingAndRetriesAfterDelay()
    {
        var (acquirer, coordinator, first) = await WarmAsync(TimeSpan.FromSeconds(100)).Within();
        using var owned = coordinator;
        _time.Advance(TimeSpan.FromSeconds(80));
        Assert.Same(first, await coordinator.GetAsync().Within());
        acquirer.Last.Fail(new InvalidOperationException("refresh failed"));

        Assert.Same(first, await coordinator.GetAsync().Within());
        Assert.Same(first, await coordinator.GetAsync().Within());
        Assert.Equal(2, acquirer.Started); // no retry storm
        _time.Advance(TimeSpan.FromSeconds(5)); // RefreshRetryDelay
        Assert.Same(first, await coordinator.GetAsync().Within());
        Assert.Equal(3, acquirer.Started);
        var third = acquirer.Last.Complete();
        Assert.Same(third, await coordinator.GetAsync().Within());
    }

    [Fact]
    public async Task GetAsync_ShortLivedToken_WindowsScaleWithLifetime()
    {
        var (acquirer, coordinator, first) = await WarmAsync(TimeSpan.FromSeconds(2)).Within();
        using var owned = coordinator;
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(1.8), coordinator.Current.UsableUntil);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(1.6), coordinator.Current.RefreshAt);

        _time.Advance(TimeSpan.FromSeconds(1.6));
        Assert.Same(first, await coordinator.GetAsync().Within());
        Assert.Equal(2, acquirer.Started);
    }

    [Fact]
    public async Task GetAsync_TokenWithoutLifetime_NeverExpires()
    {
        var (acquirer, coordinator, first) = await WarmAsync().Within();
        acquirer.Lifetime = null;
        using var owned = coordinator;
        coordinator.Invalidate();
        var second = await CompleteLast(acquirer, coordinator.GetAsync()).Within();

        _time.Advance(TimeSpan.FromDays(365));
        Assert.Same(second, await coordinator.GetAsync().Within());
        Assert.NotSame(first, second);
        Assert.Null(coordinator.Current.UsableUntil);
    }

    [Fact]
    public async Task GetAsync_AlreadyExpiredResult_ReturnedToWaitersButNotCached()
    {
        var acquirer = new TestAcquirer(_time, TimeSpan.Zero);
        using var coordinator = acquirer.CreateCoordinator();
        var token = await CompleteLast(acquirer, coordinator.GetAsync()).Within();

        Assert.Equal("access-1", token.AccessToken);
        Assert.Null(coordinator.Current.Value);
        _ = coordinator.GetAsync();
        Assert.Equal(2, acquirer.Started);
    }

    // ---- I8 keys ----

    [Fact]
    public async Task Map_DifferentKeys_NeverShareTokensOrWaitOnEachOther()
    {
        var acquirers = new Dictionary<string, TestAcquirer>();
        using var map = new AuthCoordinatorMap<string, TokenContainer>(key =>
        {
            var acquirer = new TestAcquirer(_time, Hour);
            lock (acquirers) { acquirers[key] = acquirer; }
            return acquirer.CreateCoordinator(new AuthCoordinatorOptions { Name = key });
        });

        var a = map.For("resource-a").GetAsync(); // stays pending
        var b = map.For("resource-b").GetAsync();
        var tokenB = acquirers["resource-b"].Last.Complete();

        Assert.Same(tokenB, await b.Within());
        Assert.False(a.IsCompleted);
        Assert.Same(map.For("resource-a"), map.For("resource-a"));
        Assert.NotSame(map.For("resource-a"), map.For("resource-b"));
        var tokenA = acquirers["resource-a"].Last.Complete();
        Assert.NotSame(tokenA, tokenB);
        Assert.Same(tokenA, await a.Within());
    }

    [Fact]
    public void Map_ConcurrentFirstUse_OneCoordinatorPerKey()
    {
        using var map = new AuthCoordinatorMap<int, TokenContainer>(_ => new TestAcquirer(_time, Hour).CreateCoordinator());
        var seen = new AuthCoordinator<TokenContainer>[256];
        Parallel.For(0, seen.Length, i => seen[i] = map.For(i % 4));
        for (var i = 0; i < seen.Length; i++) { Assert.Same(map.For(i % 4), seen[i]); }
        Assert.Equal(4, map.Entries.Count());
    }

    // ---- I9 re-entrancy ----

    [Fact]
    public async Task Invalidate_FromInsideAcquisition_DoesNotDeadlockAndWins()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        using var coordinator = acquirer.CreateCoordinator();
        var reentered = 0;
        acquirer.OnStart = _ =>
        {
            if (Interlocked.Increment(ref reentered) == 1)
            {
                coordinator.Invalidate();
                Assert.False(coordinator.Invalidate(static (t, s) => t.AccessToken == s, "nothing-cached"));
            }
        };

        var waiter = coordinator.GetAsync();
        var token = acquirer.Last.Complete();

        Assert.Same(token, await waiter.Within());
        Assert.Null(coordinator.Current.Value); // the invalidation from inside won
        Assert.Equal(1, acquirer.Started);
    }

    // ---- lifecycle ----

    [Fact]
    public async Task Dispose_CancelsWorkInFlightAndLaterCallsFail()
    {
        var acquirer = new TestAcquirer(_time, Hour);
        var coordinator = acquirer.CreateCoordinator();
        var waiter = coordinator.GetAsync();

        coordinator.Dispose();

        Assert.True(acquirer.Last.Token.IsCancellationRequested);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => coordinator.GetAsync());
    }

    [Fact]
    public async Task Dispose_WithCachedValue_FastPathFailsWithObjectDisposedAndStartsNothing()
    {
        var (acquirer, coordinator, token) = await WarmAsync().Within();
        Assert.Same(token, coordinator.GetAsync().ResultWithin()); // served by the fast path until now

        coordinator.Dispose();

        var after = coordinator.GetAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => after.Within(TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => coordinator.GetAsync(new CancellationToken(canceled: false)).Within(TimeSpan.FromSeconds(5)));
        Assert.Null(coordinator.Current.Value);
        Assert.Null(coordinator.Current.Timer);
        Assert.Equal(1, acquirer.Started);
        _time.Advance(TimeSpan.FromHours(2)); // no timer left to fire
        Assert.Equal(1, acquirer.Started);
    }

    [Fact]
    public async Task Snapshots_AfterEveryTransition_SatisfyInvariants()
    {
        var (acquirer, coordinator, first) = await WarmAsync(TimeSpan.FromSeconds(100)).Within();
        using var owned = coordinator;
        var seen = new List<AuthSnapshot<TokenContainer>> { coordinator.Current };
        _time.Advance(TimeSpan.FromSeconds(81)); seen.Add(coordinator.Current);
        _ = coordinator.GetAsync(); seen.Add(coordinator.Current);
        acquirer.Last.Fail(new InvalidOperationException()); seen.Add(coordinator.Current);
        Reject(coordinator, first.AccessToken); seen.Add(coordinator.Current);
        _ = coordinator.GetAsync(); seen.Add(coordinator.Current);
        acquirer.Last.Complete(); seen.Add(coordinator.Current);
        coordinator.Invalidate(); seen.Add(coordinator.Current);

        Assert.All(seen, s => Assert.Null(s.FindInvariantViolation()));
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    private static bool Reject(AuthCoordinator<TokenContainer> coordinator, string accessToken) =>
        coordinator.Invalidate(static (cached, rejected) => cached.AccessToken == rejected, accessToken);

    private static async Task<TokenContainer> CompleteLast(TestAcquirer acquirer, Task<TokenContainer> waiter)
    {
        var token = acquirer.Last.Complete();
        Assert.Same(token, await waiter.Within());
        return token;
    }
}
