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

    /// <summary>A name for metrics and logs (for example the provider and key kind).</summary>
    /// <value>The default value is <c>coordinator</c>.</value>
    public string Name { get; set; } = "coordinator";

    internal void Validate()
    {
        if (SkewMargin < TimeSpan.Zero) { throw new ArgumentOutOfRangeException(nameof(SkewMargin), "SkewMargin must not be negative."); }
        if (RefreshAheadWindow < TimeSpan.Zero) { throw new ArgumentOutOfRangeException(nameof(RefreshAheadWindow), "RefreshAheadWindow must not be negative."); }
        if (RefreshRetryDelay <= TimeSpan.Zero) { throw new ArgumentOutOfRangeException(nameof(RefreshRetryDelay), "RefreshRetryDelay must be positive."); }
        if (MaxSkewFraction is < 0 or > 1 || double.IsNaN(MaxSkewFraction)) { throw new ArgumentOutOfRangeException(nameof(MaxSkewFraction), "MaxSkewFraction must be in [0, 1]."); }
        if (MaxRefreshAheadFraction is < 0 or > 1 || double.IsNaN(MaxRefreshAheadFraction)) { throw new ArgumentOutOfRangeException(nameof(MaxRefreshAheadFraction), "MaxRefreshAheadFraction must be in [0, 1]."); }
        ArgumentException.ThrowIfNullOrWhiteSpace(Name);
    }
}
