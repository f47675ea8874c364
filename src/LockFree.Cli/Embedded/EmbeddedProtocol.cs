namespace LockFree.Cli.Embedded;

/// <summary>The grant and token type URIs the embedded servers speak besides the plain RFC 6749 grants.</summary>
internal static class EmbeddedProtocol
{
    /// <summary>RFC 8693 token exchange (the identity provider's grant).</summary>
    public const string TokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";

    /// <summary>RFC 7523 JWT bearer (the authorization server's grant for an ID-JAG).</summary>
    public const string JwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

    /// <summary>The token type of an identity assertion authorization grant (ID-JAG).</summary>
    public const string IdJagTokenType = "urn:ietf:params:oauth:token-type:id-jag";

    /// <summary>The token type of an OpenID Connect ID token.</summary>
    public const string IdTokenType = "urn:ietf:params:oauth:token-type:id_token";
}
