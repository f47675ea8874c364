namespace LockFree.Auth.CoyoteTests.Harness;

/// <summary>
/// A <see cref="TimeProvider"/> whose clock moves and whose timers fire only when the scenario calls
/// <see cref="Advance"/>. It lives in this (rewritten) assembly, so its lock and the timer callbacks it runs are
/// controlled by Coyote: a scenario that calls <see cref="Advance"/> from its own task makes "the timer fires"
/// one more operation Coyote interleaves with the callers. (FakeTimeProvider would also work outside Coyote, but
/// its lock lives in an assembly that is not rewritten.)
/// </summary>
internal sealed class ControlledClock : TimeProvider
{
    public static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly object _gate = new();
    private readonly List<Timer> _timers = [];
    private DateTimeOffset _now = Epoch;
    private int _fired;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    /// <summary>How many timer callbacks have run to completion.</summary>
    public int Fired => Volatile.Read(ref _fired);

    /// <summary>Timers created and not yet disposed.</summary>
    public int ActiveTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count;
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (period != Timeout.InfiniteTimeSpan)
        {
            throw new NotSupportedException("The coordinator uses one-shot timers only.");
        }

        var timer = new Timer(this, callback, state);
        lock (_gate)
        {
            _timers.Add(timer);
            timer.DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : _now + dueTime;
        }

        return timer;
    }

    /// <summary>Moves the clock and runs (on the calling task, outside the lock) every callback that became due.</summary>
    public void Advance(TimeSpan by)
    {
        List<Timer> due;
        lock (_gate)
        {
            _now += by;
            due = _timers.Where(t => t.DueAt is { } at && at <= _now).OrderBy(t => t.DueAt).ToList();
            foreach (var t in due)
            {
                t.DueAt = null; // one-shot: fired unless Change re-arms it
            }
        }

        foreach (var t in due)
        {
            t.Callback(t.State);
            Interlocked.Increment(ref _fired);
        }
    }

    private sealed class Timer(ControlledClock owner, TimerCallback callback, object? state) : ITimer
    {
        public TimerCallback Callback { get; } = callback;
        public object? State { get; } = state;
        public DateTimeOffset? DueAt { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                if (!owner._timers.Contains(this))
                {
                    return false;
                }

                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner._now + dueTime;
                return true;
            }
        }

        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
                DueAt = null;
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
