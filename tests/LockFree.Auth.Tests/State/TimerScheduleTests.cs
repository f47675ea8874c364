using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.State;

/// <summary>
/// I7 for values whose deadlines are far away (long lifetimes) and for clocks that jump: timer due times are clamped to
/// <see cref="AuthCoordinatorOptions.ClockCheckInterval"/> (never above the 0xFFFFFFFE ms a system timer accepts), a
/// clamped timer re-arms until the real deadline, nothing throws after the publishing CAS, and a value whose schedule
/// cannot be armed is retired rather than served unscheduled. See "Clock steps" in spec/concurrency-contract.md.
/// </summary>
public sealed class TimerScheduleTests
{
    private readonly FakeTimeProvider _fake = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public static TheoryData<int, int, int, bool> LongLifetimes() => new()
    {
        // lifetime (days), advance to (days), step (hours), ClockCheckInterval at its maximum (else the default)
        { 60, 90, 6, false },
        { 60, 90, 6, true },
        { 3652, 4018, 24, false },
        { 3652, 4018, 24, true },
    };

    [Theory]
    [MemberData(nameof(LongLifetimes))]
    public async Task LongLifetime_ClockAdvancedPastExpiryInSteps_ExpiredValueNeverReturnedAndOneNewAcquisitionStarts(int lifetimeDays, int advanceDays, int stepHours, bool maxInterval)
    {
        var strict = new StrictTimerProvider(_fake);
        var acquirer = new TestAcquirer(_fake, TimeSpan.FromDays(lifetimeDays));
        var options = maxInterval ? new AuthCoordinatorOptions { ClockCheckInterval = AuthCoordinatorOptions.MaxTimerDueTime } : null;
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, strict, options);

        var first = coordinator.GetAsync();
        var token = acquirer.Last.Complete();
        Assert.Same(token, await first.Within());
        Assert.Same(token, coordinator.Current.Value);
        Assert.NotNull(coordinator.Current.Timer);
        var usableUntil = coordinator.Current.UsableUntil!.Value;
        Assert.Equal(token.ExpiresAt!.Value - TimeSpan.FromSeconds(30), usableUntil);

        var end = _fake.GetUtcNow() + TimeSpan.FromDays(advanceDays);
        var fires = 0;
        while (_fake.GetUtcNow() < end)
        {
            _fake.Advance(TimeSpan.FromHours(stepHours)); // each step fires the (clamped) timer once; it re-arms
            fires++;
            var now = _fake.GetUtcNow();
            var served = coordinator.GetAsync();
            if (served.IsCompletedSuccessfully && ReferenceEquals(served.Result, token))
            {
                Assert.True(now < usableUntil, $"The value was served at {now:O}, past its usable-until {usableUntil:O}.");
                Assert.Equal(1, acquirer.Started);
            }
            else
            {
                Assert.True(now >= usableUntil, $"The value stopped being served at {now:O}, before its usable-until {usableUntil:O}.");
                Assert.False(served.IsCompleted, "After expiry the caller must wait for the new acquisition.");
            }
        }

        Assert.True(fires > 60, "The clock was not advanced in steps.");
        Assert.Null(coordinator.Current.Value);
        Assert.Same(token, coordinator.Current.Retired);
        Assert.Equal(2, acquirer.Started); // exactly one replacement, joined by every later caller
        Assert.Same(token, acquirer.Last.Context.Previous);
        Assert.True(strict.MaxDueRequested <= AuthCoordinatorOptions.MaxTimerDueTime, $"A due time of {strict.MaxDueRequested} was requested.");
        Assert.True(strict.MaxDueRequested <= (options?.ClockCheckInterval ?? TimeSpan.FromMinutes(1)));

        var next = coordinator.GetAsync();
        var replacement = acquirer.Last.Complete();
        Assert.Same(replacement, await next.Within());
    }

    [Fact]
    public async Task LongLifetime_IdleClient_ClampedTimerReachesRefreshAtThenUsableUntil()
    {
        // Refresh-ahead 2 days before a 60-day expiry: both deadlines lie far beyond the 1-minute ClockCheckInterval,
        // so each is reached by a timer that fires early, re-arms, and re-reads the clock.
        var strict = new StrictTimerProvider(_fake);
        var acquirer = new TestAcquirer(_fake, TimeSpan.FromDays(60));
        var options = new AuthCoordinatorOptions { RefreshAheadWindow = TimeSpan.FromDays(2) };
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, strict, options);
        var waiter = coordinator.GetAsync();
        var token = acquirer.Last.Complete();
        Assert.Same(token, await waiter.Within());
        var refreshAt = coordinator.Current.RefreshAt!.Value;
        var usableUntil = coordinator.Current.UsableUntil!.Value;
        Assert.Equal(TimeSpan.FromDays(2) - TimeSpan.FromSeconds(30), usableUntil - refreshAt);

        while (_fake.GetUtcNow() < usableUntil + TimeSpan.FromDays(1))
        {
            _fake.Advance(TimeSpan.FromHours(6)); // an idle client: nobody calls GetAsync
            var now = _fake.GetUtcNow();
            var s = coordinator.Current;
            if (now < refreshAt)
            {
                Assert.True(s.IsFresh && ReferenceEquals(s.Value, token), $"At {now:O} the value should still be fresh.");
            }
            else if (now < usableUntil)
            {
                Assert.True(!s.IsFresh && ReferenceEquals(s.Value, token), $"At {now:O} the refresh should be due and the value still held.");
            }
            else
            {
                Assert.True(s.Value is null && ReferenceEquals(s.Retired, token), $"At {now:O} the value should be retired.");
            }
        }

        Assert.Equal(1, acquirer.Started); // an idle client causes no traffic
        Assert.True(strict.MaxDueRequested <= TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Publish_60DayValueOnTimerThatRejectsDueTimesAboveSystemMaximum_NoThrowTimerArmedAtTheMaximum()
    {
        // The bug this catches: a 60-day due time made TimeProvider.System.CreateTimer throw after the publishing CAS,
        // so the value was cached with no timer and served long past its expiry.
        var strict = new StrictTimerProvider(_fake);
        var acquirer = new TestAcquirer(_fake, TimeSpan.FromDays(60));
        using var coordinator = new AuthCoordinator<TokenContainer>(
            acquirer.AcquireAsync, static t => t.ExpiresAt, strict, new AuthCoordinatorOptions { ClockCheckInterval = AuthCoordinatorOptions.MaxTimerDueTime });

        var waiter = coordinator.GetAsync();
        var token = acquirer.Last.Complete();

        Assert.Same(token, await waiter.Within());
        Assert.Same(token, coordinator.Current.Value);
        Assert.NotNull(coordinator.Current.Timer);
        Assert.Equal(AuthCoordinatorOptions.MaxTimerDueTime, strict.MaxDueRequested);
        Assert.Throws<ArgumentOutOfRangeException>(() => strict.CreateTimer(_ => { }, null, TimeSpan.FromDays(60), Timeout.InfiniteTimeSpan)); // the wrapper does reject it
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SystemTimeProvider_60DayValue_PublishesWithoutThrowingAndArmsItsTimer(bool maxInterval)
    {
        var options = maxInterval ? new AuthCoordinatorOptions { ClockCheckInterval = AuthCoordinatorOptions.MaxTimerDueTime } : null;
        using var coordinator = new AuthCoordinator<TokenContainer>(
            static (_, _) => Task.FromResult(new TokenContainer { AccessToken = "long-lived", ObtainedAt = TimeProvider.System.GetUtcNow(), ExpiresIn = TimeSpan.FromDays(60) }),
            static t => t.ExpiresAt,
            TimeProvider.System,
            options);

        var token = await coordinator.GetAsync().Within();

        Assert.Equal("long-lived", token.AccessToken);
        Assert.Same(token, coordinator.Current.Value);
        Assert.True(coordinator.Current.IsFresh);
        Assert.NotNull(coordinator.Current.Timer);
        Assert.Same(token, await coordinator.GetAsync().Within());
    }

    [Fact]
    public async Task Publish_TimerCannotBeCreated_ValueReturnedToWaitersButNotCached()
    {
        var strict = new StrictTimerProvider(_fake) { CreateFailure = new InvalidOperationException("no timers today") };
        var acquirer = new TestAcquirer(_fake, TimeSpan.FromHours(1));
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, strict);

        var waiter = coordinator.GetAsync();
        var token = acquirer.Last.Complete();

        Assert.Same(token, await waiter.Within()); // nothing thrown after the publishing CAS
        Assert.Null(coordinator.Current.Value); // fail closed: never served without a schedule
        Assert.Same(token, coordinator.Current.Retired);
        Assert.Null(coordinator.Current.FindInvariantViolation());
        _ = coordinator.GetAsync();
        Assert.Equal(2, acquirer.Started);
    }

    [Fact]
    public async Task OnTimer_TimerCannotBeReArmed_ValueRetiredAndNothingEscapesTheCallback()
    {
        var strict = new StrictTimerProvider(_fake);
        var acquirer = new TestAcquirer(_fake, TimeSpan.FromDays(1));
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, strict);
        var waiter = coordinator.GetAsync();
        var token = acquirer.Last.Complete();
        Assert.Same(token, await waiter.Within());

        strict.ChangeFailure = new InvalidOperationException("cannot re-arm");
        _fake.Advance(TimeSpan.FromMinutes(1)); // the clamped timer fires early and tries to re-arm (an escaping exception would fail here)

        Assert.Null(coordinator.Current.Value);
        Assert.Same(token, coordinator.Current.Retired);
        _ = coordinator.GetAsync();
        Assert.Equal(2, acquirer.Started);
    }

    [Fact]
    public async Task Publish_ExpiryDelegateThrows_WaitersSeeTheFailureAndTheNextCallStartsAFreshAcquisition()
    {
        var acquirer = new TestAcquirer(_fake, TimeSpan.FromHours(1));
        var calls = 0;
        using var coordinator = new AuthCoordinator<TokenContainer>(
            acquirer.AcquireAsync,
            t => Interlocked.Increment(ref calls) == 1 ? throw new FormatException("expiry-marker") : t.ExpiresAt,
            _fake);

        var waiters = Enumerable.Range(0, 4).Select(_ => coordinator.GetAsync()).ToArray();
        acquirer.Last.Complete();
        foreach (var waiter in waiters)
        {
            var thrown = await Assert.ThrowsAsync<FormatException>(() => waiter.Within());
            Assert.Equal("expiry-marker", thrown.Message);
        }

        Assert.False(coordinator.Current.IsAcquiring); // the generation ended (I5): not stuck on a faulted acquisition
        var next = coordinator.GetAsync();
        Assert.Equal(2, acquirer.Started);
        var token = acquirer.Last.Complete();
        Assert.Same(token, await next.Within());
        Assert.Equal(1, coordinator.Statistics.Failed);
    }

    [Fact]
    public void Options_ClockCheckIntervalOutOfRange_Rejected()
    {
        foreach (var bad in new[] { TimeSpan.Zero, Timeout.InfiniteTimeSpan, AuthCoordinatorOptions.MaxTimerDueTime + TimeSpan.FromMilliseconds(1) })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new AuthCoordinator<TokenContainer>(
                static (_, _) => Task.FromResult(new TokenContainer { AccessToken = "a" }), options: new AuthCoordinatorOptions { ClockCheckInterval = bad }));
        }

        Assert.Equal(TimeSpan.FromMinutes(1), new AuthCoordinatorOptions().ClockCheckInterval);
    }

    // ---- Clock steps (spec: "Clock steps") ----

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public async Task ClockStepsPastUsableUntil_TimerRetiresTheValueWithinOneClockCheckInterval(int intervalMinutes)
    {
        var interval = TimeSpan.FromMinutes(intervalMinutes);
        var clock = new SteppingTimeProvider(_fake);
        var acquirer = new TestAcquirer(_fake, TimeSpan.FromHours(1));
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, clock, new AuthCoordinatorOptions { ClockCheckInterval = interval });
        var waiter = coordinator.GetAsync();
        var token = acquirer.Last.Complete();
        Assert.Same(token, await waiter.Within());

        clock.Step(TimeSpan.FromHours(3)); // the wall clock jumps (resume after suspend); timers do not move

        // The documented limit: the fast path reads no clock, so until the timer fires the value is still served.
        Assert.Same(token, coordinator.GetAsync().ResultWithin());

        _fake.Advance(interval - TimeSpan.FromSeconds(1));
        Assert.Same(token, coordinator.GetAsync().ResultWithin());

        _fake.Advance(TimeSpan.FromSeconds(1)); // one ClockCheckInterval after the last arming: the timer re-reads the clock
        Assert.Null(coordinator.Current.Value);
        var after = coordinator.GetAsync();
        Assert.False(after.IsCompleted);
        Assert.Equal(2, acquirer.Started);
    }

    [Fact]
    public async Task ClockStepsPastUsableUntil_SlowPathNeverReturnsTheExpiredValue()
    {
        var clock = new SteppingTimeProvider(_fake);
        var acquirer = new TestAcquirer(_fake, TimeSpan.FromSeconds(100));
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, clock);
        var waiter = coordinator.GetAsync();
        var token = acquirer.Last.Complete();
        Assert.Same(token, await waiter.Within());
        _fake.Advance(TimeSpan.FromSeconds(80)); // refresh due: the fast path is off, callers take the slow path
        Assert.False(coordinator.Current.IsFresh);

        clock.Step(TimeSpan.FromHours(1)); // the wall clock jumps past usable-until before any caller came

        var after = coordinator.GetAsync();
        Assert.False(after.IsCompleted); // the slow path read the clock, retired the value and started an acquisition
        Assert.Null(coordinator.Current.Value);
        Assert.Equal(2, acquirer.Started);
        Assert.False(acquirer.Last.Context.IsBackgroundRefresh);
    }
}
