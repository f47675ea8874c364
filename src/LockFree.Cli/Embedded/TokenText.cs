using System.Security.Cryptography;

namespace LockFree.Cli.Embedded;

/// <summary>The text of the embedded servers' random tokens (opaque: a prefix and 32 random bytes) and base64url.</summary>
internal static class TokenText
{
    /// <summary>A new opaque token: <paramref name="prefix"/> and 32 random bytes in base64url.</summary>
    public static string Random(string prefix) => prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>Base64url without padding (RFC 4648 §5).</summary>
    public static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
