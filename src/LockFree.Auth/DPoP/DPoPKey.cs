using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.DPoP;

/// <summary>
/// A DPoP proof key (RFC 9449): the private signing credentials and the public JWK that every proof's header carries.
/// </summary>
/// <remarks>
/// <para>
/// The public JWK holds only the public members (<c>kty</c>, <c>crv</c>, <c>x</c>, <c>y</c> for EC; <c>kty</c>,
/// <c>n</c>, <c>e</c> for RSA); the constructor copies them and refuses a key whose public part cannot be derived.
/// <see cref="ToString"/> shows the algorithm and the RFC 7638 thumbprint, never key material.
/// </para>
/// <para>Concurrency: immutable; one instance signs concurrent proofs.</para>
/// </remarks>
public sealed class DPoPKey
{
    /// <summary>Creates a key from <paramref name="signingCredentials"/> (an EC or RSA key with its private part).</summary>
    /// <param name="signingCredentials">The credentials that sign proofs; their algorithm (for example <c>ES256</c>) becomes the proof's <c>alg</c>.</param>
    /// <exception cref="ArgumentException">The key is neither an EC nor an RSA key, or its public part cannot be read.</exception>
    public DPoPKey(SigningCredentials signingCredentials)
    {
        ArgumentNullException.ThrowIfNull(signingCredentials);
        SigningCredentials = signingCredentials;
        PublicJwk = PublicPartOf(signingCredentials.Key);
        Thumbprint = Base64UrlEncoder.Encode(PublicJwk.ComputeJwkThumbprint());
    }

    /// <summary>The credentials that sign proofs (a secret: the private key).</summary>
    public SigningCredentials SigningCredentials { get; }

    /// <summary>The public JWK put in each proof's <c>jwk</c> header (public members only).</summary>
    public JsonWebKey PublicJwk { get; }

    /// <summary>The JWS algorithm of the proofs, for example <c>ES256</c>.</summary>
    public string Algorithm => SigningCredentials.Algorithm;

    /// <summary>The RFC 7638 SHA-256 thumbprint of <see cref="PublicJwk"/> (base64url): the <c>jkt</c> tokens are bound to.</summary>
    public string Thumbprint { get; }

    /// <summary>Creates a new EC P-256 key (<c>ES256</c>), the algorithm every DPoP server supports.</summary>
    public static DPoPKey CreateEcP256() =>
        new(new SigningCredentials(new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)), SecurityAlgorithms.EcdsaSha256));

    /// <summary>Describes the key by algorithm and thumbprint (no key material).</summary>
    public override string ToString() => $"DPoPKey {{ Algorithm = {Algorithm}, Thumbprint = {Thumbprint} }}";

    private static JsonWebKey PublicPartOf(SecurityKey key)
    {
        switch (key)
        {
            case ECDsaSecurityKey ec:
            {
                var p = ec.ECDsa.ExportParameters(includePrivateParameters: false);
                var curve = p.Curve.Oid?.FriendlyName switch
                {
                    "nistP256" or "ECDSA_P256" => JsonWebKeyECTypes.P256,
                    "nistP384" or "ECDSA_P384" => JsonWebKeyECTypes.P384,
                    "nistP521" or "ECDSA_P521" => JsonWebKeyECTypes.P521,
                    _ => throw new ArgumentException("The DPoP key must be an EC key on P-256, P-384 or P-521.", nameof(key)),
                };
                return new JsonWebKey { Kty = JsonWebAlgorithmsKeyTypes.EllipticCurve, Crv = curve, X = Base64UrlEncoder.Encode(p.Q.X), Y = Base64UrlEncoder.Encode(p.Q.Y) };
            }

            case RsaSecurityKey rsa:
            {
                var p = rsa.Rsa?.ExportParameters(includePrivateParameters: false) ?? rsa.Parameters;
                return new JsonWebKey { Kty = JsonWebAlgorithmsKeyTypes.RSA, N = Base64UrlEncoder.Encode(p.Modulus), E = Base64UrlEncoder.Encode(p.Exponent) };
            }

            default:
                throw new ArgumentException("The DPoP key must be an ECDsaSecurityKey or an RsaSecurityKey.", nameof(key));
        }
    }
}
