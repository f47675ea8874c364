using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>The EC P-256 key of the <c>private_key_jwt</c> client <c>cc-jwt</c>, registered (public part) at both servers.</summary>
public static class ClientKeys
{
    private static readonly ECDsa s_key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public const string KeyId = "cc-jwt-key";

    public static SigningCredentials SigningCredentials { get; } =
        new(new ECDsaSecurityKey(s_key) { KeyId = KeyId }, SecurityAlgorithms.EcdsaSha256);

    /// <summary>The public JWK.</summary>
    public static JsonWebKey PublicJwk { get; } = CreatePublicJwk();

    /// <summary>The public JWK as JSON (for oidc-provider's client <c>jwks</c>).</summary>
    public static string PublicJwkJson => JsonSerializer.Serialize(new
    {
        kty = "EC",
        crv = "P-256",
        x = PublicJwk.X,
        y = PublicJwk.Y,
        kid = KeyId,
        alg = "ES256",
        use = "sig",
    });

    private static JsonWebKey CreatePublicJwk()
    {
        var p = s_key.ExportParameters(includePrivateParameters: false);
        return new JsonWebKey
        {
            Kty = "EC",
            Crv = "P-256",
            X = Base64UrlEncoder.Encode(p.Q.X),
            Y = Base64UrlEncoder.Encode(p.Q.Y),
            Kid = KeyId,
            Alg = "ES256",
            Use = "sig",
        };
    }
}
