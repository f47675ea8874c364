namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>
/// One request an authorization server handled, recorded by the server itself after it answered (an ASP.NET Core
/// middleware in front of OpenIddict; a Koa middleware inside oidc-provider): the wire count the tests assert on.
/// </summary>
/// <param name="Kind"><c>token</c>, <c>revocation</c>, <c>discovery</c> or <c>authorization</c>.</param>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The request path.</param>
/// <param name="Status">The HTTP status the server answered with.</param>
/// <param name="GrantType">The token request's <c>grant_type</c>.</param>
/// <param name="ClientAuth">How the client authenticated: <c>client_secret_basic</c>, <c>client_secret_post</c>, <c>private_key_jwt</c> or <c>none</c>.</param>
/// <param name="Resource">The RFC 8707 <c>resource</c> parameter, if sent.</param>
/// <param name="Error">The OAuth <c>error</c> of an error answer.</param>
/// <param name="ErrorDescription">Its <c>error_description</c>.</param>
/// <param name="Dpop">Whether the request carried a <c>DPoP</c> proof header.</param>
/// <param name="Location">The <c>Location</c> of an authorization answer.</param>
public sealed record ServerEvent(
    string Kind,
    string Method,
    string Path,
    int Status,
    string? GrantType = null,
    string? ClientAuth = null,
    string? Resource = null,
    string? Error = null,
    string? ErrorDescription = null,
    bool Dpop = false,
    string? Location = null)
{
    public bool IsToken(string grantType) => Kind == "token" && GrantType == grantType;
}
