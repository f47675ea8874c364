namespace LockFree.Auth;

/// <summary>
/// Protects the serialized token set before it leaves the process for a shared store, and unprotects what is read
/// back. <see cref="AesGcmSharedTokenProtector"/> is the one-line default.
/// </summary>
/// <remarks>Concurrency: implementations must be safe to call from any thread, concurrently.</remarks>
public interface ISharedTokenProtector
{
    /// <summary>Protects <paramref name="plaintext"/>, bound to the record's <paramref name="key"/> (a payload copied to another key must not unprotect).</summary>
    byte[] Protect(ReadOnlySpan<byte> plaintext, string key);

    /// <summary>Unprotects a payload written by <see cref="Protect"/> for the same <paramref name="key"/>; throws <see cref="System.Security.Cryptography.CryptographicException"/> if it was altered or protected with another key.</summary>
    byte[] Unprotect(ReadOnlySpan<byte> protectedPayload, string key);
}
