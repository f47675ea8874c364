namespace LockFree.Auth;

/// <summary>The answer to a lease request: granted with a fence, held by another, or stale.</summary>
/// <remarks>Concurrency: immutable; safe to share between threads.</remarks>
public sealed class SharedLease
{
    private SharedLease(SharedLeaseStatus status, long version, string? holder, TimeSpan remaining)
    {
        Status = status;
        Version = version;
        Holder = holder;
        Remaining = remaining;
    }

    /// <summary>Granted, held by another holder, or stale.</summary>
    public SharedLeaseStatus Status { get; }

    /// <summary>Granted: the fence (the version the lease was taken at, 0 for no record). Otherwise the record's current version.</summary>
    public long Version { get; }

    /// <summary>Granted: the holder the lease was granted to; otherwise <see langword="null"/>.</summary>
    public string? Holder { get; }

    /// <summary>Held: how long the other holder's lease has left; otherwise zero.</summary>
    public TimeSpan Remaining { get; }

    /// <summary>A lease granted to <paramref name="holder"/> at <paramref name="fence"/>.</summary>
    public static SharedLease Granted(long fence, string holder)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fence);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        return new(SharedLeaseStatus.Granted, fence, holder, TimeSpan.Zero);
    }

    /// <summary>Another holder's lease at <paramref name="version"/> is live for <paramref name="remaining"/>.</summary>
    public static SharedLease Held(long version, TimeSpan remaining) =>
        new(SharedLeaseStatus.Held, version, null, remaining < TimeSpan.Zero ? TimeSpan.Zero : remaining);

    /// <summary>The record has <paramref name="currentVersion"/>, not the version asked for.</summary>
    public static SharedLease Stale(long currentVersion) => new(SharedLeaseStatus.Stale, currentVersion, null, TimeSpan.Zero);
}
