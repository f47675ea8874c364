namespace LockFree.Auth;

/// <summary>What <see cref="SharedTokenAcquisition"/> does when the shared store cannot be reached.</summary>
public enum SharedStoreFailureMode
{
    /// <summary>
    /// Exchange anyway, coalesced per process only (the coordinator still makes one exchange per process), write a
    /// warning and count <c>lockfree.auth.shared.store_failures</c>; the store is tried again on the next acquisition.
    /// Replicas may then exchange the same rotating refresh token (one of them is rejected by reuse detection).
    /// </summary>
    Degrade,

    /// <summary>Fail the acquisition with <see cref="SharedTokenStoreUnavailableException"/>; nothing is exchanged without the store.</summary>
    FailClosed,
}
