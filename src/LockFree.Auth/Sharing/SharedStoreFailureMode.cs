namespace LockFree.Auth;

/// <summary>What <see cref="SharedTokenAcquisition"/> does when the shared store cannot be reached.</summary>
public enum SharedStoreFailureMode
{
    /// <summary>
    /// Exchange anyway, coalesced per process only (the coordinator still makes one exchange per process), write a
    /// warning and count <c>lockfree.auth.shared.store_failures</c>; the store is tried again on the next acquisition.
    /// A refresh token that came through the store is never presented meanwhile (other replicas may hold it, and
    /// presenting it twice makes a strict server revoke the chain): the configured grant is used instead — for an
    /// authorization-code client that means a new sign-in; use <see cref="FailClosed"/> where a replica cannot sign in.
    /// </summary>
    Degrade,

    /// <summary>Fail the acquisition with <see cref="SharedTokenStoreUnavailableException"/>; nothing is exchanged without the store.</summary>
    FailClosed,
}
