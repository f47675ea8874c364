using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using LockFree.Auth.DPoP;

namespace LockFree.Auth.Protocol;

/// <summary>
/// DPoP (RFC 9449) for one provider: creates a proof per request and keeps the servers' nonces
/// (<see cref="DPoPNonceCache"/>, shared lock-free state).
/// </summary>
/// <remarks>
/// <para>
/// A proof is a JWT with header <c>typ: dpop+jwt</c>, <c>alg</c> and the public <c>jwk</c>, and claims <c>jti</c>
/// (fresh), <c>htm</c> (the method), <c>htu</c> (the target URI without query and fragment), <c>iat</c> (the
/// provider's clock), <c>nonce</c> (the latest one the target's origin sent, if any) and, on resource requests,
/// <c>ath</c> (base64url SHA-256 of the access token).
/// </para>
/// <para>
/// Nonces: a <c>DPoP-Nonce</c> header on any answer of a token endpoint or the resource updates its origin's nonce; a
/// token endpoint's <c>400 use_dpop_nonce</c> and a resource's <c>401</c> with <c>WWW-Authenticate: DPoP
/// error="use_dpop_nonce"</c> make the request be sent once more with a new proof (at most once per request: no retry
/// storm). N concurrent such answers publish the nonce once.
/// </para>
/// <para>Concurrency: immutable apart from the nonce cache; safe for concurrent requests. Proofs are never logged.</para>
/// </remarks>
internal sealed class DPoPProofs
{
    internal const string Scheme = "DPoP";
    internal const string HeaderName = "DPoP";
    internal const string NonceHeaderName = "DPoP-Nonce";
    internal const string UseDPoPNonce = "use_dpop_nonce";

    private static readonly JsonWebTokenHandler s_handler = new() { SetDefaultTimesOnTokenCreation = false };

    private readonly IDPoPKeyStore _keys;
    private readonly TimeProvider _time;

    internal DPoPProofs(IDPoPKeyStore keys, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(time);
        _keys = keys;
        _time = time;
    }

    /// <summary>The servers' nonces.</summary>
    internal DPoPNonceCache Nonces { get; } = new();

    /// <summary>Creates the proof for <paramref name="method"/> <paramref name="target"/>, bound to <paramref name="accessToken"/> when given.</summary>
    internal async ValueTask<string> CreateAsync(HttpMethod method, Uri target, string? accessToken, CancellationToken cancellationToken)
    {
        var key = await _keys.GetKeyAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new OAuthException("The DPoP key store returned no key.", OAuthFailureReason.InvalidInput);
        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            [JwtRegisteredClaimNames.Jti] = Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(16)),
            ["htm"] = method.Method,
            ["htu"] = target.GetLeftPart(UriPartial.Path),
            [JwtRegisteredClaimNames.Iat] = _time.GetUtcNow().ToUnixTimeSeconds(),
        };
        if (Nonces.Get(target) is { } nonce)
        {
            claims["nonce"] = nonce;
        }

        if (accessToken is not null)
        {
            claims["ath"] = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));
        }

        var jwk = key.PublicJwk;
        var publicJwk = jwk.Kty == JsonWebAlgorithmsKeyTypes.RSA
            ? new Dictionary<string, object>(StringComparer.Ordinal) { ["kty"] = jwk.Kty, ["n"] = jwk.N, ["e"] = jwk.E }
            : new Dictionary<string, object>(StringComparer.Ordinal) { ["kty"] = jwk.Kty, ["crv"] = jwk.Crv, ["x"] = jwk.X, ["y"] = jwk.Y };
        return s_handler.CreateToken(new SecurityTokenDescriptor
        {
            TokenType = "dpop+jwt",
            SigningCredentials = key.SigningCredentials,
            AdditionalHeaderClaims = new Dictionary<string, object>(StringComparer.Ordinal) { ["jwk"] = publicJwk },
            Claims = claims,
        });
    }

    /// <summary>Sets the <c>DPoP</c> header of <paramref name="request"/> to a new proof (replacing an earlier one).</summary>
    internal async ValueTask ApplyAsync(HttpRequestMessage request, string? accessToken, CancellationToken cancellationToken)
    {
        var proof = await CreateAsync(request.Method, request.RequestUri!, accessToken, cancellationToken).ConfigureAwait(false);
        request.Headers.Remove(HeaderName);
        request.Headers.TryAddWithoutValidation(HeaderName, proof);
    }

    /// <summary>Records the <c>DPoP-Nonce</c> of <paramref name="response"/>, if any; returns whether the shared nonce changed.</summary>
    internal bool Observe(Uri target, HttpResponseMessage response) =>
        response.Headers.NonValidated.TryGetValues(NonceHeaderName, out var values) && Nonces.Update(target, values.FirstOrDefault());

    /// <summary>
    /// Whether a resource's answer asks for a (new) nonce: <c>401</c> with a <c>DPoP</c> challenge whose <c>error</c> is
    /// <c>use_dpop_nonce</c> (RFC 9449 §9).
    /// </summary>
    internal static bool IsNonceChallenge(HttpResponseMessage response, IReadOnlyList<WwwAuthenticateChallenge> challenges) =>
        response.StatusCode == HttpStatusCode.Unauthorized
        && challenges.Any(static c => string.Equals(c.Scheme, Scheme, StringComparison.OrdinalIgnoreCase) && string.Equals(c["error"], UseDPoPNonce, StringComparison.Ordinal));

    /// <summary>The <c>Authorization</c> header of a DPoP-bound access token (RFC 9449 §7.1).</summary>
    internal static AuthenticationHeaderValue Authorization(string accessToken) => new(Scheme, accessToken);
}
