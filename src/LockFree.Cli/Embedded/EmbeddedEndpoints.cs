namespace LockFree.Cli.Embedded;

/// <summary>Where the embedded servers listen: one base address (known once Kestrel started) and a path per endpoint.</summary>
internal sealed class EmbeddedEndpoints
{
    public const string ResourcePath = "/mcp";
    public const string ResourceMetadataPath = "/.well-known/oauth-protected-resource";
    public const string TokenPath = "/token";
    public const string IdpTokenPath = "/idp/token";
    public const string AuthorizePath = "/authorize";
    public const string RegisterPath = "/register";

    /// <summary>The base address, for example <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUri { get; set; } = null!;

    /// <summary>The issuer of the authorization server (the base address without a trailing slash).</summary>
    public string Issuer => BaseUri.GetLeftPart(UriPartial.Authority);

    /// <summary>The protected resource.</summary>
    public Uri Resource => new(BaseUri, ResourcePath);

    /// <summary>The protected resource's metadata (RFC 9728), at the resource's path under the well-known prefix.</summary>
    public Uri ResourceMetadata => new(BaseUri, ResourceMetadataPath + ResourcePath);

    /// <summary>The authorization server's token endpoint.</summary>
    public Uri Token => new(BaseUri, TokenPath);

    /// <summary>The identity provider's token endpoint.</summary>
    public Uri IdpToken => new(BaseUri, IdpTokenPath);

    /// <summary>The authorization endpoint (the login page).</summary>
    public Uri Authorization => new(BaseUri, AuthorizePath);

    /// <summary>The RFC 7591 registration endpoint.</summary>
    public Uri Registration => new(BaseUri, RegisterPath);
}
