namespace LockFree.Auth;

/// <summary>The outcome of <see cref="ISharedTokenStore.TryAcquireLeaseAsync"/>.</summary>
public enum SharedLeaseStatus
{
    /// <summary>The lease is the caller's; its fence is the version it asked for.</summary>
    Granted,

    /// <summary>Another holder has a live lease at that version: wait for its notification, then re-read.</summary>
    Held,

    /// <summary>The record has another version than the caller read: re-read it (a newer token may be adoptable).</summary>
    Stale,
}
