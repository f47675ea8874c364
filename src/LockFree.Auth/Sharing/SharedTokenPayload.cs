using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace LockFree.Auth;

/// <summary>
/// The serialized form of a <see cref="TokenContainer"/> in a shared record (UTF-8 JSON; times in UTC ticks, so a token
/// set read back equals the one written), and the access token's fingerprint. Pure.
/// </summary>
internal static class SharedTokenPayload
{
    /// <summary>The access token's fingerprint: base64 SHA-256 (a high-entropy token cannot be recovered from it).</summary>
    internal static string Fingerprint(string accessToken) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(accessToken)));

    internal static byte[] Serialize(TokenContainer token)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("at", token.AccessToken);
            writer.WriteString("tt", token.TokenType);
            if (token.RefreshToken is { } refresh) { writer.WriteString("rt", refresh); }
            if (token.Scope is { } scope) { writer.WriteString("sc", scope); }
            if (token.Issuer is { } issuer) { writer.WriteString("iss", issuer); }
            writer.WriteNumber("oa", token.ObtainedAt.UtcTicks);
            if (token.ExpiresIn is { } lifetime) { writer.WriteNumber("ei", lifetime.Ticks); }
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    internal static TokenContainer Deserialize(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        return new TokenContainer
        {
            AccessToken = root.GetProperty("at").GetString() ?? throw new JsonException("No access token."),
            TokenType = root.GetProperty("tt").GetString() ?? "Bearer",
            RefreshToken = root.TryGetProperty("rt", out var rt) ? rt.GetString() : null,
            Scope = root.TryGetProperty("sc", out var sc) ? sc.GetString() : null,
            Issuer = root.TryGetProperty("iss", out var iss) ? iss.GetString() : null,
            ObtainedAt = new DateTimeOffset(root.GetProperty("oa").GetInt64(), TimeSpan.Zero),
            ExpiresIn = root.TryGetProperty("ei", out var ei) ? TimeSpan.FromTicks(ei.GetInt64()) : null,
        };
    }

    /// <summary>The opt-out: the payload is stored as it is (<see cref="SharedTokenOptions.StorePlainText"/>).</summary>
    internal sealed class PlainText : ISharedTokenProtector
    {
        internal static readonly PlainText Instance = new();

        public byte[] Protect(ReadOnlySpan<byte> plaintext, string key) => plaintext.ToArray();

        public byte[] Unprotect(ReadOnlySpan<byte> protectedPayload, string key) => protectedPayload.ToArray();
    }
}
