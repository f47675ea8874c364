namespace LockFree.Cli.Storm;

/// <summary>
/// The fewest token exchanges a correct client can make: one for the first token, one each time refresh-ahead
/// replaces a token, and one per server-side revocation.
/// </summary>
/// <remarks>
/// The state core serves a token of lifetime <c>L</c> until <c>expiry − min(skew, 10% of L)</c> and starts the
/// background refresh at <c>expiry − min(window, 20% of L)</c> (defaults: skew 30 s, window 2 min). So consecutive
/// exchanges are at least <c>L − min(2 min, 0.2 L)</c> apart (1.6 s for a 2 s token), and a revocation makes one
/// more exchange necessary and restarts that schedule. <see cref="Compute"/> places exchanges as early as the rules
/// allow from the first exchange on and counts them: any correct run makes at most that many.
/// </remarks>
internal static class IdealExchanges
{
    /// <summary>The core's default refresh-ahead window.</summary>
    public static readonly TimeSpan RefreshAheadWindow = TimeSpan.FromMinutes(2);

    /// <summary>The core's default refresh-ahead fraction.</summary>
    public const double RefreshAheadFraction = 0.2;

    /// <summary>The core's default skew margin.</summary>
    public static readonly TimeSpan SkewMargin = TimeSpan.FromSeconds(30);

    /// <summary>The core's default skew fraction.</summary>
    public const double SkewFraction = 0.1;

    /// <summary>How long a token of <paramref name="lifetime"/> is used before its replacement is fetched.</summary>
    public static TimeSpan RefreshInterval(TimeSpan lifetime)
    {
        var ahead = Min(RefreshAheadWindow, lifetime * RefreshAheadFraction);
        var skew = Min(SkewMargin, lifetime * SkewFraction);
        return lifetime - (ahead > skew ? ahead : skew);
    }

    /// <summary>How long a token of <paramref name="lifetime"/> is served at most.</summary>
    public static TimeSpan UsableFor(TimeSpan lifetime) => lifetime - Min(SkewMargin, lifetime * SkewFraction);

    /// <summary>
    /// Counts the exchanges of the earliest schedule the rules allow in <c>[<paramref name="first"/>, <paramref name="end"/>]</c>
    /// when the first token was obtained at <paramref name="first"/> and tokens were revoked at
    /// <paramref name="revocations"/> (all offsets from the start of the storm).
    /// </summary>
    public static IdealBreakdown Compute(TimeSpan first, TimeSpan end, TimeSpan interval, IEnumerable<TimeSpan> revocations)
    {
        if (interval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), "The refresh interval must be positive.");
        }

        long refreshes = 0;
        long revoked = 0;
        var last = first;
        foreach (var r in revocations.Where(r => r >= first && r <= end).Order())
        {
            while (last + interval <= r)
            {
                refreshes++;
                last += interval;
            }

            revoked++;
            last = r;
        }

        while (last + interval <= end)
        {
            refreshes++;
            last += interval;
        }

        return new IdealBreakdown(1, refreshes, revoked);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
