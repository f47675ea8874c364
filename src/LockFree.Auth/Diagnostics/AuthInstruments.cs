using System.Diagnostics.Metrics;

namespace LockFree.Auth.Diagnostics;

/// <summary>
/// Every instrument of LockFree.Auth (the counters of <see cref="AuthMetrics"/> and the histograms of
/// <see cref="AuthTelemetry"/>), created from one <see cref="System.Diagnostics.Metrics.Meter"/> named
/// <see cref="AuthMetrics.MeterName"/>.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Default"/> is built over a static meter, for code that constructs the library without a container (and for
/// <c>lockfree storm</c>'s <see cref="MeterListener"/>). <see cref="For"/> builds a set over the meter of an
/// <see cref="IMeterFactory"/> (the container's, through the DI package), so a host's measurements are scoped to its own
/// factory and the meter is disposed with the container, never by the library.
/// </para>
/// <para>
/// The owner of a coordinator reads its set once at construction into a readonly field (the coordinator from
/// <c>AuthCoordinatorOptions.Instruments</c>, the acquisitions from their coordinator, <see cref="SharedTokenAcquisition"/>
/// from its creator): no path reads mutable state to find its instruments, and nothing is recorded on the fast path.
/// </para>
/// <para>Concurrency: immutable; the instruments are thread-safe.</para>
/// </remarks>
internal sealed class AuthInstruments
{
    /// <summary>The version of the meter (and of the <c>ActivitySource</c>).</summary>
    internal const string MeterVersion = "1.0.0";

    /// <summary>The instruments over the static meter: what every component uses unless given another set.</summary>
    internal static AuthInstruments Default { get; } = new(new Meter(AuthMetrics.MeterName, MeterVersion));

    /// <summary>Creates every instrument on <paramref name="meter"/> (whose owner disposes it).</summary>
    internal AuthInstruments(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        Meter = meter;
        AcquisitionsStarted = meter.CreateCounter<long>("lockfree.auth.acquisitions.started", "{acquisition}", "Acquisitions (token exchanges, metadata fetches) started.");
        CallersCoalesced = meter.CreateCounter<long>("lockfree.auth.callers.coalesced", "{caller}", "Callers that joined an acquisition already in flight instead of starting one.");
        Invalidations = meter.CreateCounter<long>("lockfree.auth.invalidations", "{invalidation}", "Invalidations that changed the state (unconditional, or conditional ones that matched).");
        Failures = meter.CreateCounter<long>("lockfree.auth.acquisitions.failed", "{acquisition}", "Acquisitions that failed or were cancelled (tagged lockfree.auth.background).");
        Evictions = meter.CreateCounter<long>("lockfree.auth.keys.evicted", "{key}", "Keys evicted from a full AuthCoordinatorMap (tagged with the evicted coordinator's name).");
        Discarded = meter.CreateCounter<long>("lockfree.auth.acquisitions.discarded", "{acquisition}", "Acquisitions whose result was returned to its waiters but not cached because an invalidation won.");
        SharedAdopted = meter.CreateCounter<long>("lockfree.auth.shared.adopted", "{acquisition}", "Acquisitions served by adopting a newer token set another replica published (no exchange).");
        SharedStoreFailures = meter.CreateCounter<long>("lockfree.auth.shared.store_failures", "{failure}", "Shared-store operations that failed (acquisition degraded to per-process coalescing or failed closed).");
        AcquisitionDuration = meter.CreateHistogram<double>(
            "lockfree.auth.acquisition.duration",
            "s",
            "Duration of acquisitions (token exchanges, metadata fetches), tagged with the coordinator, background and outcome.");
        CoalescedWait = meter.CreateHistogram<double>(
            "lockfree.auth.coalesced.wait",
            "s",
            "How long each caller that joined an acquisition in flight waited for it to complete, tagged with the coordinator.");
    }

    /// <summary>The meter the instruments belong to.</summary>
    internal Meter Meter { get; }

    internal Counter<long> AcquisitionsStarted { get; }

    internal Counter<long> CallersCoalesced { get; }

    internal Counter<long> Invalidations { get; }

    internal Counter<long> Failures { get; }

    internal Counter<long> Evictions { get; }

    internal Counter<long> Discarded { get; }

    internal Counter<long> SharedAdopted { get; }

    internal Counter<long> SharedStoreFailures { get; }

    internal Histogram<double> AcquisitionDuration { get; }

    internal Histogram<double> CoalescedWait { get; }

    /// <summary>
    /// The instruments over <paramref name="meterFactory"/>'s meter <see cref="AuthMetrics.MeterName"/> (version
    /// <see cref="MeterVersion"/>), or <see cref="Default"/> when there is no factory. The factory owns the meter (and
    /// returns the same one for the same options), so nothing here disposes it.
    /// </summary>
    internal static AuthInstruments For(IMeterFactory? meterFactory) =>
        meterFactory is null
            ? Default
            : new AuthInstruments(meterFactory.Create(new MeterOptions(AuthMetrics.MeterName) { Version = MeterVersion }));
}
