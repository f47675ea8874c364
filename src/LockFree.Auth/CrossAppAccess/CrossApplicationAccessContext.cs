namespace LockFree.Auth.CrossAppAccess;

/// <summary>
/// What <see cref="CrossApplicationAccessProviderOptions.IdTokenCallback"/> is asked for: the user's OpenID Connect ID
/// token to reach <see cref="ResourceUrl"/> through <see cref="AuthorizationServerUrl"/>.
/// </summary>
/// <remarks>Concurrency: immutable.</remarks>
public sealed class CrossApplicationAccessContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="resourceUrl">The protected resource (MCP server) the access token is for.</param>
    /// <param name="authorizationServerUrl">The resource's authorization server (its issuer).</param>
    public CrossApplicationAccessContext(Uri resourceUrl, Uri authorizationServerUrl)
    {
        ArgumentNullException.ThrowIfNull(resourceUrl);
        ArgumentNullException.ThrowIfNull(authorizationServerUrl);
        ResourceUrl = resourceUrl;
        AuthorizationServerUrl = authorizationServerUrl;
    }

    /// <summary>The protected resource (MCP server) the access token is for.</summary>
    public Uri ResourceUrl { get; }

    /// <summary>The resource's authorization server (its issuer).</summary>
    public Uri AuthorizationServerUrl { get; }

    /// <summary>Describes the context.</summary>
    public override string ToString() => $"CrossApplicationAccessContext {{ ResourceUrl = {ResourceUrl}, AuthorizationServerUrl = {AuthorizationServerUrl} }}";
}
