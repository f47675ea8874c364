using LockFree.Auth.PropertyTests.Support;

namespace LockFree.Auth.PropertyTests.State;

/// <summary>
/// Properties of the pure snapshot transitions of <see cref="AuthSnapshot{T}"/> (internal <c>With…</c> methods):
/// from any reachable snapshot every transition preserves I-S1..I-S5, is pure (same input, equal output; the input
/// is unchanged) and has the effect spec/concurrency-contract.md §2 gives it.
/// </summary>
public sealed class SnapshotPropertyTests
{
    private static readonly DateTimeOffset Origin = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // Acquisitions need an owner; it is never started here.
    private static readonly AuthCoordinator<TokenContainer> Owner =
        new((_, _) => Task.FromException<TokenContainer>(new InvalidOperationException("never started")));

    /// <summary>One step of a generated snapshot history. Steps whose precondition does not hold are skipped.</summary>
    internal abstract record Step
    {
        public sealed record Pend : Step;
        public sealed record Publish(int LifetimeSeconds, int AgeSeconds) : Step; // LifetimeSeconds 0: no expiry
        public sealed record Fail(int RetrySeconds) : Step;
        public sealed record Retire : Step;
        public sealed record Invalidate : Step;
        public sealed record AttachTimer : Step;
        public sealed record RefreshDue : Step;
        public sealed record Advance(int Seconds) : Step;
    }

    internal static readonly Gen<Step> GenStep = Gen.Frequency(
        (4, Gen.Const<Step>(new Step.Pend())),
        (4, Gen.Select(Gen.OneOf(Gen.Const(0), Gen.Int[1, 4_000]), Gen.Int[0, 400], (l, a) => (Step)new Step.Publish(l, a))),
        (2, Gen.Int[1, 30].Select(r => (Step)new Step.Fail(r))),
        (2, Gen.Const<Step>(new Step.Retire())),
        (1, Gen.Const<Step>(new Step.Invalidate())),
        (2, Gen.Const<Step>(new Step.AttachTimer())),
        (2, Gen.Const<Step>(new Step.RefreshDue())),
        (3, Gen.Int[0, 4_000].Select(s => (Step)new Step.Advance(s))));

    internal static readonly Gen<AuthCoordinatorOptions> GenOptions = Gen.Select(
        Gen.Int[0, 120], Gen.Int[0, 100], Gen.Int[0, 600], Gen.Int[0, 100], Gen.Int[1, 30],
        (skew, skewPercent, ahead, aheadPercent, retry) => new AuthCoordinatorOptions
        {
            SkewMargin = TimeSpan.FromSeconds(skew),
            MaxSkewFraction = skewPercent / 100.0,
            RefreshAheadWindow = TimeSpan.FromSeconds(ahead),
            MaxRefreshAheadFraction = aheadPercent / 100.0,
            RefreshRetryDelay = TimeSpan.FromSeconds(retry),
        });

    private static readonly Gen<(AuthCoordinatorOptions Options, Step[] Steps)> GenHistory =
        Gen.Select(GenOptions, GenStep.Array[1, 40]);

    [Fact]
    public void Transitions_FromAnyReachableSnapshot_PreserveInvariantsArePureAndHaveTheirSpecifiedEffect()
    {
        GenHistory.Sample(
            h => Replay(h.Options, h.Steps),
            iter: Budget.Iterations(Budget.Snapshot),
            print: h => Describe(h.Options, h.Steps));
    }

    [Fact]
    public void Schedule_AnyLifetimeAndOptions_ServesUntilSkewAndRefreshesAheadWithinTheCaps()
    {
        Gen.Select(GenOptions, Gen.Int[-100, 100_000], Gen.Int[0, 1_000])
            .Sample(t =>
            {
                var (options, lifetimeSeconds, nowOffset) = t;
                var now = Origin.AddSeconds(nowOffset);
                var expires = now.AddSeconds(lifetimeSeconds);
                var (usableUntil, refreshAt) = AuthSnapshot<TokenContainer>.Schedule(expires, now, options);
                Assert.NotNull(usableUntil);
                if (lifetimeSeconds <= 0)
                {
                    // I7: a value that arrives already expired is unusable at once and never refreshed.
                    Assert.Equal(now, usableUntil);
                    Assert.Null(refreshAt);
                    return;
                }

                var lifetime = expires - now;
                var skew = expires - usableUntil!.Value;
                Assert.True(skew >= TimeSpan.Zero && skew <= options.SkewMargin, $"skew {skew} outside [0, {options.SkewMargin}]");
                Assert.True(skew.Ticks <= lifetime.Ticks * options.MaxSkewFraction + 1, $"skew {skew} exceeds {options.MaxSkewFraction:P0} of {lifetime}");
                Assert.NotNull(refreshAt);
                Assert.True(refreshAt <= usableUntil, "I-S4: refresh starts no later than expiry");
                var ahead = expires - refreshAt!.Value;
                Assert.True(ahead <= TimeSpan.FromTicks(Math.Max(options.RefreshAheadWindow.Ticks, skew.Ticks)), $"refresh-ahead {ahead} exceeds the window");
                Assert.True(refreshAt >= now, "refresh never starts before publication");
                if (options.MaxSkewFraction < 1)
                {
                    Assert.True(usableUntil > now, "a value with a positive lifetime is usable when it arrives");
                }
            },
            iter: Budget.Iterations(Budget.Snapshot),
            print: t => $"options=({Describe(t.Item1)}) lifetime={t.Item2}s now=+{t.Item3}s");
    }

    [Fact]
    public void Transitions_SameInputTwice_EqualOutputs()
    {
        // Determinism on its own, from the empty state, so a failure names the transition directly.
        var acquisition = new Acquisition<TokenContainer>(Owner, 1, null, isBackgroundRefresh: false);
        var empty = AuthSnapshot<TokenContainer>.Empty;
        Assert.Equal(empty.WithPending(acquisition), empty.WithPending(acquisition));
        Assert.Equal(empty.WithInvalidated(), empty.WithInvalidated());
        Assert.NotSame(empty, empty.WithInvalidated());
        Assert.Same(empty, empty.WithRetired());
    }

    private static void Replay(AuthCoordinatorOptions options, Step[] steps)
    {
        var s = AuthSnapshot<TokenContainer>.Empty;
        var now = Origin;
        var n = 0;
        foreach (var step in steps)
        {
            if (step is Step.Advance a)
            {
                now = now.AddSeconds(a.Seconds);
                continue;
            }

            var input = s with { };
            var inputText = s.ToString();
            Func<AuthSnapshot<TokenContainer>, AuthSnapshot<TokenContainer>>? transition = Transition(step, s, now, options, ref n);
            if (transition is null)
            {
                continue; // precondition does not hold
            }

            var next = transition(s);
            var again = transition(s);

            // Purity: same input, equal output; the input is unchanged (value equality and its description).
            Assert.Equal(next, again);
            Assert.Equal(input, s);
            Assert.Equal(inputText, s.ToString());

            // I-S1..I-S5 hold after the transition.
            Assert.Null(next.FindInvariantViolation());

            CheckEffect(step, s, next, now, options);
            s = next;
        }
    }

    private static Func<AuthSnapshot<TokenContainer>, AuthSnapshot<TokenContainer>>? Transition(
        Step step, AuthSnapshot<TokenContainer> s, DateTimeOffset now, AuthCoordinatorOptions options, ref int n)
    {
        switch (step)
        {
            case Step.Pend when s.Pending is null:
                var acquisition = new Acquisition<TokenContainer>(Owner, s.Generation + 1, s.Value ?? s.Retired, isBackgroundRefresh: s.Value is not null);
                return x => x.WithPending(acquisition);
            case Step.Publish p when s.Pending is not null:
                var value = new TokenContainer
                {
                    AccessToken = $"t{++n}",
                    ObtainedAt = now.AddSeconds(-p.AgeSeconds),
                    ExpiresIn = p.LifetimeSeconds == 0 ? null : TimeSpan.FromSeconds(p.LifetimeSeconds),
                };
                var completed = Task.FromResult(value);
                return x => x.WithPublished(value, completed, value.ExpiresAt, now, options);
            case Step.Fail f when s.Pending is not null:
                return x => x.WithFailed(now.AddSeconds(f.RetrySeconds));
            case Step.Retire:
                return x => x.WithRetired();
            case Step.Invalidate:
                return x => x.WithInvalidated();
            case Step.RefreshDue:
                return x => x.WithRefreshDue();
            case Step.AttachTimer when s.Value is not null && s.Timer is null:
                var timer = new NeverFiringTimer();
                return x => x.WithTimer(timer);
            default:
                return null;
        }
    }

    /// <summary>The effect of each transition, as spec/concurrency-contract.md §2 states it.</summary>
    private static void CheckEffect(Step step, AuthSnapshot<TokenContainer> before, AuthSnapshot<TokenContainer> after, DateTimeOffset now, AuthCoordinatorOptions options)
    {
        switch (step)
        {
            case Step.Pend:
                // I2: a new generation with its acquisition; the value stays for refresh-ahead.
                Assert.Equal(before.Generation + 1, after.Generation);
                Assert.Equal(after.Generation, after.Pending!.Generation);
                Assert.Same(before.Value, after.Value);
                Assert.Same(before.Cached, after.Cached);
                Assert.Same(after.Cached, after.Fast); // I1: the value is served fast while its refresh runs
                Assert.Equal(before.UsableUntil, after.UsableUntil);
                break;
            case Step.Publish p:
                Assert.Equal(before.Generation, after.Generation);
                Assert.Null(after.Pending);
                DateTimeOffset? expiresAt = p.LifetimeSeconds == 0 ? null : now.AddSeconds(p.LifetimeSeconds - p.AgeSeconds);
                var (usableUntil, refreshAt) = ExpectedSchedule(expiresAt, now, options);
                if (usableUntil is { } u && u <= now && before.IsUsable(now))
                {
                    // I7: a refresh result that is unusable on arrival does not replace a still-usable value; the
                    // refresh is retried after the retry delay, as after a failure.
                    Assert.Same(before.Value, after.Value);
                    Assert.Same(before.Cached, after.Fast);
                    var retryAt = now + options.RefreshRetryDelay;
                    Assert.Equal(before.UsableUntil is { } until && until < retryAt ? until : retryAt, after.RefreshAt);
                    Assert.Same(before.Retired, after.Retired);
                }
                else if (usableUntil is { } u2 && u2 <= now)
                {
                    // I7: an already unusable value is not cached; it is kept only as the retired value.
                    Assert.Null(after.Value);
                    Assert.Null(after.Cached);
                    Assert.False(after.IsUsable(now));
                    Assert.NotNull(after.Retired);
                    Assert.Equal(expiresAt, after.Retired!.ExpiresAt);
                }
                else
                {
                    Assert.True(after.IsUsable(now));
                    Assert.NotSame(before.Value, after.Value);
                    Assert.Same(after.Value, after.Cached!.Result);
                    Assert.Same(after.Cached, after.Fast);
                    Assert.Equal(expiresAt, after.Value!.ExpiresAt);
                    Assert.Equal(after.Generation, after.ValueGeneration);
                    Assert.Equal(usableUntil, after.UsableUntil);
                    Assert.Equal(refreshAt, after.RefreshAt);
                    Assert.Null(after.Retired);
                }

                break;
            case Step.Fail f:
                // I5: the acquisition is gone, nothing is cached by the failure, the generation is not reopened.
                Assert.Null(after.Pending);
                Assert.Equal(before.Generation, after.Generation);
                Assert.Same(before.Value, after.Value);
                if (before.Value is not null)
                {
                    var retryAt = now.AddSeconds(f.RetrySeconds);
                    Assert.Equal(before.UsableUntil is { } until && until < retryAt ? until : retryAt, after.RefreshAt);
                    Assert.Same(after.Cached, after.Fast); // served fast again until the retry is due
                }

                break;
            case Step.Retire:
                // I4 / I7: the value leaves, the acquisition in flight stays, same generation.
                Assert.Null(after.Value);
                Assert.Same(before.Pending, after.Pending);
                Assert.Equal(before.Generation, after.Generation);
                Assert.Same(before.Value ?? before.Retired, after.Retired);
                Assert.Null(after.Timer);
                Assert.Null(after.Fast);
                break;
            case Step.RefreshDue:
                // I7: at RefreshAt the fast path stops serving (unless a refresh is already in flight); nothing else changes.
                if (before.Fast is null || before.Pending is not null)
                {
                    Assert.Same(before, after);
                }
                else
                {
                    Assert.Null(after.Fast);
                    Assert.Same(before.Cached, after.Cached);
                    Assert.Equal((before.Generation, before.UsableUntil, before.RefreshAt, before.Timer), (after.Generation, after.UsableUntil, after.RefreshAt, after.Timer));
                }

                break;
            case Step.Invalidate:
                // I3: everything is forgotten and a new generation opens, so the acquisition in flight cannot publish.
                Assert.Equal(before.Generation + 1, after.Generation);
                Assert.Null(after.Value);
                Assert.Null(after.Pending);
                Assert.Null(after.Retired);
                Assert.Null(after.UsableUntil);
                Assert.Null(after.Timer);
                Assert.Null(after.Fast);
                break;
            case Step.AttachTimer:
                Assert.NotNull(after.Timer);
                Assert.Equal((before.Generation, before.Value, before.UsableUntil, before.RefreshAt, before.Pending), (after.Generation, after.Value, after.UsableUntil, after.RefreshAt, after.Pending));
                break;
        }

        // The predicates agree with the fields.
        Assert.Equal(after.Value is not null && (after.UsableUntil is null || now < after.UsableUntil), after.IsUsable(now));
        if (after.IsRefreshDue(now))
        {
            Assert.True(after.IsUsable(now) && after.Pending is null && after.RefreshAt <= now);
        }
    }

    /// <summary>The schedule formula of AuthCoordinatorOptions' documentation, written out independently.</summary>
    internal static (DateTimeOffset? UsableUntil, DateTimeOffset? RefreshAt) ExpectedSchedule(DateTimeOffset? expiresAt, DateTimeOffset now, AuthCoordinatorOptions options)
    {
        if (expiresAt is not { } e)
        {
            return (null, null);
        }

        var lifetime = e - now;
        if (lifetime <= TimeSpan.Zero)
        {
            return (now, null);
        }

        var skew = options.SkewMargin < lifetime * options.MaxSkewFraction ? options.SkewMargin : lifetime * options.MaxSkewFraction;
        var ahead = options.RefreshAheadWindow < lifetime * options.MaxRefreshAheadFraction ? options.RefreshAheadWindow : lifetime * options.MaxRefreshAheadFraction;
        var usableUntil = e - skew;
        var refreshAt = e - ahead;
        return (usableUntil, refreshAt < usableUntil ? refreshAt : usableUntil);
    }

    private static string Describe(AuthCoordinatorOptions o) =>
        $"skew={o.SkewMargin.TotalSeconds}s/{o.MaxSkewFraction:0.00} ahead={o.RefreshAheadWindow.TotalSeconds}s/{o.MaxRefreshAheadFraction:0.00} retry={o.RefreshRetryDelay.TotalSeconds}s";

    private static string Describe(AuthCoordinatorOptions options, Step[] steps) =>
        $"options=({Describe(options)}) steps=[{string.Join(", ", steps.Select(s => s.ToString()))}]";

    /// <summary>A timer handle for snapshots built by hand; nothing here ever fires.</summary>
    private sealed class NeverFiringTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;
        public void Dispose() { }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
