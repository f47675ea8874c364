namespace LockFree.Cli.Storm;

/// <summary>Sums of the <c>LockFree.Auth</c> meter's counters over the run.</summary>
internal sealed record MeterStats(
    long AcquisitionsStarted,
    long CallersCoalesced,
    long Invalidations,
    long AcquisitionFailures,
    long Discarded,
    IReadOnlyDictionary<string, long> AcquisitionsByCoordinator);
