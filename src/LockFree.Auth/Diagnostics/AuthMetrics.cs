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
/// <para>
/// Without a container, every component records on one static meter. Through the DI package (or with an
/// <see cref="System.Diagnostics.Metrics.IMeterFactory"/> given to <c>ClientCredentialsTokenManager</c> or to the
/// providers' options), a component records on the factory's meter of this name instead: measurements are then scoped to
/// that factory (a <c>MetricCollector</c> or listener of another container's factory sees none of them) and the meter is
/// disposed with the container.
/// </para>
/// <para>Concurrency: constants only; the instruments are thread-safe and nothing is recorded on the fast path.</para>
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
}
