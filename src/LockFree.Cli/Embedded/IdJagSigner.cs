using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The identity assertion authorization grants (ID-JAGs) between the embedded identity provider, which creates them,
/// and the embedded authorization server, which accepts them: HS256 JWTs under a key the two share for one run.
/// </summary>
internal sealed class IdJagSigner(TimeProvider time)
{
    private readonly byte[] _signingKey = RandomNumberGenerator.GetBytes(32);

    /// <summary>A signed ID-JAG: typ <c>oauth-id-jag+jwt</c>, aud = <paramref name="issuer"/>, <paramref name="clientId"/>, 5-minute expiry.</summary>
    public string Create(string issuer, string clientId, string resource)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "oauth-id-jag+jwt" });
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["iss"] = issuer + "/idp",
            ["sub"] = "storm-user",
            ["aud"] = issuer,
            ["client_id"] = clientId,
            ["resource"] = resource,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["iat"] = now,
            ["exp"] = now + 300,
        });
        var signingInput = TokenText.Base64Url(header) + "." + TokenText.Base64Url(payload);
        var signature = HMACSHA256.HashData(_signingKey, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + TokenText.Base64Url(signature);
    }

    /// <summary>Whether <paramref name="assertion"/> carries a valid signature, aud = <paramref name="issuer"/>, <paramref name="clientId"/> and has not expired.</summary>
    public bool IsValid(string assertion, string issuer, string clientId)
    {
        var parts = assertion.Split('.');
        if (parts.Length != 3)
        {
            return false;
        }

        var expected = TokenText.Base64Url(HMACSHA256.HashData(_signingKey, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1])));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(parts[2])))
        {
            return false;
        }

        try
        {
            var padded = parts[1].Replace('-', '+').Replace('_', '/');
            padded = padded.PadRight(padded.Length + ((4 - (padded.Length % 4)) % 4), '=');
            using var payload = JsonDocument.Parse(Convert.FromBase64String(padded));
            var root = payload.RootElement;
            return root.GetProperty("aud").GetString() == issuer
                && root.GetProperty("client_id").GetString() == clientId
                && root.GetProperty("exp").GetInt64() > time.GetUtcNow().ToUnixTimeSeconds();
        }
        catch (Exception ex) when (ex is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }
}
