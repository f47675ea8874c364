using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Protocol;

/// <summary>
/// <c>private_key_jwt</c> client authentication (RFC 7523 §2.2, OpenID Connect Core §9): a client assertion
/// (<see cref="ClientAssertionAuthentication"/>) signed with the client's key.
/// </summary>
/// <remarks>
/// The JWT header's <c>typ</c> is <see cref="OAuth.ClientOAuthOptions.ClientAssertionJwtType"/> (by default
/// <c>client-authentication+jwt</c>, draft-ietf-oauth-rfc7523bis: OpenIddict 7.x requires it; oidc-provider 9.x and the
/// MCP conformance suite accept it). Concurrency: immutable; a new assertion is created per request.
/// </remarks>
internal sealed class PrivateKeyJwtAuthentication : ClientAssertionAuthentication
{
    private readonly SigningCredentials _credentials;

    internal PrivateKeyJwtAuthentication(string clientId, SigningCredentials credentials, TimeSpan lifetime, string type = ClientAssertionJwtTypes.ClientAuthentication)
        : base(clientId, lifetime, type)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        _credentials = credentials;
    }

    internal override string Method => OAuthConstants.PrivateKeyJwt;

    private protected override SigningCredentials SigningCredentialsFor(ClientAuthenticationContext context) => _credentials;
}
