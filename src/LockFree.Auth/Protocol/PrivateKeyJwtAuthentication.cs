using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Protocol;

/// <summary>
/// <c>private_key_jwt</c> client authentication (RFC 7523 §2.2, OpenID Connect Core §9): a JWT signed with the
/// client's key, created with <see cref="JsonWebTokenHandler"/>, sent as <c>client_assertion</c>.
/// </summary>
/// <remarks>
/// The assertion has <c>iss</c> = <c>sub</c> = the client ID, <c>aud</c> = the authorization server's issuer when
/// known (else the token endpoint), a fresh <c>jti</c>, and <c>iat</c>/<c>nbf</c>/<c>exp</c> from the provider's
/// <see cref="TimeProvider"/>. The JWT header's <c>typ</c> is <see cref="OAuth.ClientOAuthOptions.ClientAssertionJwtType"/>
/// (by default <c>client-authentication+jwt</c>, draft-ietf-oauth-rfc7523bis: OpenIddict 7.x requires it; oidc-provider
/// 9.x and the MCP conformance suite accept it). Concurrency: immutable; a new assertion is created per request.
/// </remarks>
internal sealed class PrivateKeyJwtAuthentication : ClientAuthentication
{
    private static readonly JsonWebTokenHandler s_handler = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly SigningCredentials _credentials;
    private readonly TimeSpan _lifetime;
    private readonly string _type;

    internal PrivateKeyJwtAuthentication(string clientId, SigningCredentials credentials, TimeSpan lifetime, string type = ClientAssertionJwtTypes.ClientAuthentication)
        : base(clientId)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentException.ThrowIfNullOrEmpty(type);
        _credentials = credentials;
        _lifetime = lifetime;
        _type = type;
    }

    internal override string Method => OAuthConstants.PrivateKeyJwt;

    internal override ValueTask ApplyAsync(HttpRequestMessage request, List<KeyValuePair<string, string>> form, ClientAuthenticationContext context, CancellationToken cancellationToken)
    {
        form.Add(new("client_id", ClientId));
        form.Add(new("client_assertion_type", OAuthConstants.ClientAssertionTypeJwtBearer));
        form.Add(new("client_assertion", CreateAssertion(context)));
        return ValueTask.CompletedTask;
    }

    internal string CreateAssertion(ClientAuthenticationContext context)
    {
        var now = context.TimeProvider.GetUtcNow().UtcDateTime;
        var audience = context.Issuer?.OriginalString ?? context.TokenEndpoint.ToString();
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = ClientId,
            Audience = audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + _lifetime,
            SigningCredentials = _credentials,
            TokenType = _type,
            Claims = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                [JwtRegisteredClaimNames.Sub] = ClientId,
                [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
            },
        };
        return s_handler.CreateToken(descriptor);
    }
}
