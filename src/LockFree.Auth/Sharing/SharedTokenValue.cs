namespace LockFree.Auth;

/// <summary>What a shared record holds about one token set: the protected payload, the access token's fingerprint and the expiry.</summary>
/// <remarks>Concurrency: immutable; safe to share between threads.</remarks>
public sealed class SharedTokenValue
{
    /// <summary>Creates a value.</summary>
    /// <param name="protectedPayload">The token set, serialized and protected (<see cref="ISharedTokenProtector"/>); opaque to the store.</param>
    /// <param name="fingerprint">A hash of the access token (never the token), for conditional invalidation.</param>
    /// <param name="expiresAt">When the access token expires, if known.</param>
    public SharedTokenValue(ReadOnlyMemory<byte> protectedPayload, string fingerprint, DateTimeOffset? expiresAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(fingerprint);
        ProtectedPayload = protectedPayload;
        Fingerprint = fingerprint;
        ExpiresAt = expiresAt;
    }

    /// <summary>The token set, serialized and protected; opaque to the store.</summary>
    public ReadOnlyMemory<byte> ProtectedPayload { get; }

    /// <summary>A hash of the access token (never the token itself).</summary>
    public string Fingerprint { get; }

    /// <summary>When the access token expires, if known.</summary>
    public DateTimeOffset? ExpiresAt { get; }
}
