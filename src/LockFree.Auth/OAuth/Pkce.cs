using System.Security.Cryptography;
using System.Text;

namespace LockFree.Auth.OAuth;

/// <summary>PKCE (RFC 7636, S256 only) and the <c>state</c> value of an authorization request.</summary>
/// <remarks>Concurrency: stateless; <see cref="RandomNumberGenerator"/> is thread-safe.</remarks>
internal static class Pkce
{
    /// <summary>A fresh code verifier: 32 random bytes, base64url (43 characters, the RFC's recommendation).</summary>
    internal static string CreateVerifier() => RandomUrlSafe(32);

    /// <summary>The S256 challenge of <paramref name="verifier"/>: BASE64URL(SHA256(ASCII(verifier))).</summary>
    internal static string ChallengeS256(string verifier) =>
        Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    /// <summary>A fresh, unguessable <c>state</c> value.</summary>
    internal static string CreateState() => RandomUrlSafe(24);

    /// <summary>Compares two strings in time independent of where they differ.</summary>
    internal static bool FixedTimeEquals(string? a, string? b)
    {
        if (a is null || b is null)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
    }

    private static string RandomUrlSafe(int bytes) => Base64Url(RandomNumberGenerator.GetBytes(bytes));

    private static string Base64Url(byte[] data) => System.Buffers.Text.Base64Url.EncodeToString(data);
}
