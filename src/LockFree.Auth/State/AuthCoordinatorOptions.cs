using LockFree.Auth.Diagnostics;

namespace LockFree.Auth;

/// <summary>
/// Expiry, skew and refresh-ahead rules of an <see cref="AuthCoordinator{T}"/>.
/// </summary>
/// <remarks>
/// <para>
/// With a value that expires at <c>E</c> and was published at <c>P</c> (lifetime <c>L = E − P</c>):
/// it is served until <c>UsableUntil = E − min(SkewMargin, L × MaxSkewFraction)</c>, and a background
/// acquisition replaces it from <c>RefreshAt = E − min(RefreshAheadWindow, L × MaxRefreshAheadFraction)</c>
/// (never later than <c>UsableUntil</c>). The fractions keep short-lived tokens useful: a 2-second token is
/// served for 1.8 s and refreshed from 1.6 s.
/// </para>
/// <para>Concurrency: read once at construction of the coordinator; later changes have no effect.</para>
/// </remarks>
public sealed class AuthCoordinatorOptions
{
    /// <summary>Safety margin before expiry inside which a value counts as expired.</summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan SkewMargin { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Upper bound of the skew margin as a fraction of the lifetime.</summary>
    /// <value>The default value is 0.1.</value>
    public double MaxSkewFraction { get; set; } = 0.1;

    /// <summary>How long before <c>UsableUntil</c>'s expiry a background refresh starts.</summary>
    /// <value>The default value is 2 minutes.</value>
    public TimeSpan RefreshAheadWindow { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Upper bound of the refresh-ahead window as a fraction of the lifetime.</summary>
    /// <value>The default value is 0.2.</value>
    public double MaxRefreshAheadFraction { get; set; } = 0.2;

    /// <summary>After a failed background refresh, how long to wait before the next one (the value is still served).</summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan RefreshRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The longest the coordinator's timer waits before it reads the <see cref="TimeProvider"/>'s clock again. A
    /// deadline further away (a long-lived token) is reached in steps of at most this length, each step re-reading the
    /// clock. This bounds how long a value can still be served after the clock jumps past its <c>UsableUntil</c>
    /// (suspend and resume, an NTP step; see "Clock steps" in <c>spec/concurrency-contract.md</c>), and it keeps every due
    /// time below the largest one a timer accepts (0xFFFFFFFE ms, about 49.7 days).
    /// </summary>
    /// <value>The default value is 1 minute. It must be positive and at most 0xFFFFFFFE milliseconds (about 49.7 days).</value>
    public TimeSpan ClockCheckInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The largest due time <see cref="TimeProvider.System"/>'s timers accept: 0xFFFFFFFE milliseconds (about 49.7
    /// days); a larger one throws <see cref="ArgumentOutOfRangeException"/>. The coordinator never asks for more.
    /// </summary>
    internal static TimeSpan MaxTimerDueTime { get; } = TimeSpan.FromMilliseconds(0xFFFFFFFE);

    /// <summary>A name for metrics and logs (for example the provider and key kind).</summary>
    /// <value>The default value is <c>coordinator</c>.</value>
    public string Name { get; set; } = "coordinator";

    /// <summary>
    /// Where the coordinator's Debug events go (category <c>LockFree.Auth.AuthCoordinator</c>: acquisition started,
    /// joined, published, discarded, failed; invalidated; evicted — event IDs 1000–1099). Nothing is written on the fast
    /// path and no value is ever logged. The providers set their own logger factory here when this is not set.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no logging.</value>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// The instruments the coordinator records on (set by the owner that was given an <c>IMeterFactory</c>: the
    /// client-credentials manager, the providers); <see langword="null"/>: <see cref="AuthInstruments.Default"/>, the
    /// static meter. Read once by the coordinator's constructor.
    /// </summary>
    internal AuthInstruments? Instruments { get; set; }

    /// <summary>
    /// The one copy of these options: later changes to this instance have no effect on the clone's owner.
    /// <paramref name="name"/>, when given, replaces <see cref="Name"/> in the clone.
    /// </summary>
    internal AuthCoordinatorOptions Clone(string? name = null) => new()
    {
        SkewMargin = SkewMargin,
        MaxSkewFraction = MaxSkewFraction,
        RefreshAheadWindow = RefreshAheadWindow,
        MaxRefreshAheadFraction = MaxRefreshAheadFraction,
        RefreshRetryDelay = RefreshRetryDelay,
        ClockCheckInterval = ClockCheckInterval,
        Name = name ?? Name,
        LoggerFactory = LoggerFactory,
        Instruments = Instruments,
    };

    internal void Validate()
    {
        if (SkewMargin < TimeSpan.Zero) { throw new ArgumentOutOfRangeException(nameof(SkewMargin), "SkewMargin must not be negative."); }
        if (RefreshAheadWindow < TimeSpan.Zero) { throw new ArgumentOutOfRangeException(nameof(RefreshAheadWindow), "RefreshAheadWindow must not be negative."); }
        if (RefreshRetryDelay <= TimeSpan.Zero) { throw new ArgumentOutOfRangeException(nameof(RefreshRetryDelay), "RefreshRetryDelay must be positive."); }
        if (MaxSkewFraction is < 0 or > 1 || double.IsNaN(MaxSkewFraction)) { throw new ArgumentOutOfRangeException(nameof(MaxSkewFraction), "MaxSkewFraction must be in [0, 1]."); }
        if (MaxRefreshAheadFraction is < 0 or > 1 || double.IsNaN(MaxRefreshAheadFraction)) { throw new ArgumentOutOfRangeException(nameof(MaxRefreshAheadFraction), "MaxRefreshAheadFraction must be in [0, 1]."); }
        if (ClockCheckInterval <= TimeSpan.Zero || ClockCheckInterval > MaxTimerDueTime) { throw new ArgumentOutOfRangeException(nameof(ClockCheckInterval), "ClockCheckInterval must be positive and at most MaxTimerDueTime (0xFFFFFFFE ms)."); }
        ArgumentException.ThrowIfNullOrWhiteSpace(Name);
    }
}
