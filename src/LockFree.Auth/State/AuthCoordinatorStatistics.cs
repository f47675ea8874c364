namespace LockFree.Auth;

/// <summary>Counters of one <see cref="AuthCoordinator{T}"/> since it was created.</summary>
/// <param name="AcquisitionsStarted">Acquisitions started (foreground and background).</param>
/// <param name="CallersCoalesced">Callers that joined an acquisition in flight.</param>
/// <param name="Published">Acquisitions whose result was cached.</param>
/// <param name="Discarded">Acquisitions whose result was not cached because an invalidation won.</param>
/// <param name="Failed">Acquisitions that failed or were cancelled.</param>
/// <param name="Invalidations">Invalidations that changed the state.</param>
public readonly record struct AuthCoordinatorStatistics(
    long AcquisitionsStarted,
    long CallersCoalesced,
    long Published,
    long Discarded,
    long Failed,
    long Invalidations);
