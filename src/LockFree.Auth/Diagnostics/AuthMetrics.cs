using System.Diagnostics.Metrics;

namespace LockFree.Auth.Diagnostics;

/// <summary>
/// The <see cref="System.Diagnostics.Metrics"/> instruments of LockFree.Auth (meter <c>LockFree.Auth</c>).
/// </summary>
/// <remarks>
/// <para>
/// Every measurement carries the tag <c>lockfree.auth.coordinator</c> with <see cref="AuthCoordinatorOptions.Name"/>.
/// Failures also carry <c>lockfree.auth.background</c>: <see langword="true"/> for a failed background refresh (the
/// cached value is still served and nobody may be waiting for the result), <see langword="false"/> otherwise.
/// </para>
/// <para>Concurrency: the instruments are thread-safe; nothing is recorded on the fast path.</para>
/// </remarks>
public static class AuthMetrics
{
    /// <summary>The meter name to listen to.</summary>
    public const string MeterName = "LockFree.Auth";

    /// <summary>The tag that names the coordinator.</summary>
    public const string CoordinatorTag = "lockfree.auth.coordinator";

    /// <summary>The tag of <c>lockfree.auth.acquisitions.failed</c> that says whether the acquisition was a background refresh.</summary>
    public const string BackgroundTag = "lockfree.auth.background";

    internal static readonly KeyValuePair<string, object?> BackgroundRefreshTag = new(BackgroundTag, true);

    internal static readonly KeyValuePair<string, object?> ForegroundTag = new(BackgroundTag, false);

    private static readonly Meter s_meter = new(MeterName, "1.0.0");

    internal static readonly Counter<long> AcquisitionsStarted =
        s_meter.CreateCounter<long>("lockfree.auth.acquisitions.started", "{acquisition}", "Acquisitions (token exchanges, metadata fetches) started.");

    internal static readonly Counter<long> CallersCoalesced =
        s_meter.CreateCounter<long>("lockfree.auth.callers.coalesced", "{caller}", "Callers that joined an acquisition already in flight instead of starting one.");

    internal static readonly Counter<long> Invalidations =
        s_meter.CreateCounter<long>("lockfree.auth.invalidations", "{invalidation}", "Invalidations that changed the state (unconditional, or conditional ones that matched).");

    internal static readonly Counter<long> Failures =
        s_meter.CreateCounter<long>("lockfree.auth.acquisitions.failed", "{acquisition}", "Acquisitions that failed or were cancelled (tagged lockfree.auth.background).");

    internal static readonly Counter<long> Evictions =
        s_meter.CreateCounter<long>("lockfree.auth.keys.evicted", "{key}", "Keys evicted from a full AuthCoordinatorMap (tagged with the evicted coordinator's name).");

    internal static readonly Counter<long> Discarded =
        s_meter.CreateCounter<long>("lockfree.auth.acquisitions.discarded", "{acquisition}", "Acquisitions whose result was returned to its waiters but not cached because an invalidation won.");

    internal static readonly Counter<long> SharedAdopted =
        s_meter.CreateCounter<long>("lockfree.auth.shared.adopted", "{acquisition}", "Acquisitions served by adopting a newer token set another replica published (no exchange).");

    internal static readonly Counter<long> SharedStoreFailures =
        s_meter.CreateCounter<long>("lockfree.auth.shared.store_failures", "{failure}", "Shared-store operations that failed (acquisition degraded to per-process coalescing or failed closed).");
}
