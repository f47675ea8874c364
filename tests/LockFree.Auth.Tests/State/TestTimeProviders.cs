using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.State;

/// <summary>
/// Wraps a clock and enforces what <see cref="TimeProvider.System"/> enforces on timers: a due time above
/// 0xFFFFFFFE ms throws <see cref="ArgumentOutOfRangeException"/>, from <c>CreateTimer</c> and from <c>Change</c>
/// (measured on .NET 10: 0xFFFFFFFE ms is accepted, 0xFFFFFFFF ms throws). Optionally fails on purpose.
/// </summary>
internal sealed class StrictTimerProvider(TimeProvider inner) : TimeProvider
{
    private long _maxDueTicks;
    private int _created;
    private int _live;

    /// <summary>When set, <c>CreateTimer</c> throws this (a TimeProvider that fails for its own reasons).</summary>
    public Exception? CreateFailure { get; set; }

    /// <summary>When set, <c>Change</c> throws this.</summary>
    public Exception? ChangeFailure { get; set; }

    /// <summary>The largest due time asked for, by CreateTimer or Change.</summary>
    public TimeSpan MaxDueRequested => TimeSpan.FromTicks(Interlocked.Read(ref _maxDueTicks));

    public int Created => Volatile.Read(ref _created);

    /// <summary>Timers created and not yet disposed (a timer that fired but was never disposed still counts).</summary>
    public int Live => Volatile.Read(ref _live);

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Check(dueTime, nameof(dueTime));
        Check(period, nameof(period));
        if (CreateFailure is { } failure) { throw failure; }
        Interlocked.Increment(ref _created);
        Interlocked.Increment(ref _live);
        return new StrictTimer(this, inner.CreateTimer(callback, state, dueTime, period));
    }

    private void Check(TimeSpan value, string name)
    {
        if (value != Timeout.InfiniteTimeSpan)
        {
            var ticks = value.Ticks;
            long seen;
            while ((seen = Interlocked.Read(ref _maxDueTicks)) < ticks && Interlocked.CompareExchange(ref _maxDueTicks, ticks, seen) != seen) { }
        }

        var ms = (long)value.TotalMilliseconds;
        if (ms < -1 || ms > 0xFFFFFFFE)
        {
            throw new ArgumentOutOfRangeException(name, ms, $"{name} ('{ms}') must be less than or equal to '4294967294'.");
        }
    }

    private sealed class StrictTimer(StrictTimerProvider owner, ITimer timer) : ITimer
    {
        private int _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            owner.Check(dueTime, nameof(dueTime));
            owner.Check(period, nameof(period));
            if (owner.ChangeFailure is { } failure) { throw failure; }
            return timer.Change(dueTime, period);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._live);
            }

            timer.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>
/// A wall clock that can jump (suspend/resume, an NTP step) while timers keep running on the monotonic clock of a
/// <see cref="FakeTimeProvider"/>, as system timers do: <see cref="Step"/> moves only <c>GetUtcNow</c>.
/// </summary>
internal sealed class SteppingTimeProvider(FakeTimeProvider monotonic) : TimeProvider
{
    private long _offsetTicks;

    public void Step(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => monotonic.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public override long GetTimestamp() => monotonic.GetTimestamp();

    public override long TimestampFrequency => monotonic.TimestampFrequency;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        monotonic.CreateTimer(callback, state, dueTime, period);
}
