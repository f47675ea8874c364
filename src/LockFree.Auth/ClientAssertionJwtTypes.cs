namespace LockFree.Auth;

/// <summary>
/// Values for the <c>typ</c> header of <c>private_key_jwt</c> client assertions
/// (<see cref="OAuth.ClientOAuthOptions.ClientAssertionJwtType"/>).
/// </summary>
/// <remarks>
/// <para>
/// <see cref="ClientAuthentication"/> (<c>client-authentication+jwt</c>, draft-ietf-oauth-rfc7523bis §4) is the default:
/// an explicit type keeps a client assertion from being accepted as any other kind of JWT. Measured here: OpenIddict
/// 7.9.0 accepts only this type (<c>typ: JWT</c> gets <c>invalid_client</c>, "The specified token is not of the expected
/// type"); oidc-provider 9.13.3 and the MCP conformance suite (0.1.16, 0.2.0-alpha.9) accept any <c>typ</c>.
/// </para>
/// <para>
/// <see cref="Jwt"/> (<c>JWT</c>) is for an authorization server that accepts only the RFC 7523 (2015) shape; use it when a
/// server answers <c>invalid_client</c> to the default.
/// </para>
/// </remarks>
public static class ClientAssertionJwtTypes
{
    /// <summary><c>client-authentication+jwt</c> (draft-ietf-oauth-rfc7523bis): the default.</summary>
    public const string ClientAuthentication = "client-authentication+jwt";

    /// <summary><c>JWT</c>: what RFC 7523 (2015) clients sent.</summary>
    public const string Jwt = "JWT";
}
