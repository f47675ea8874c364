namespace LockFree.Auth.ClientCredentials;

/// <summary>
/// What one call of <see cref="ClientCredentialsTokenManager.GetAccessTokenAsync"/> asks for instead of the client's
/// configured <see cref="ClientCredentialsClientOptions.Scope"/> and <see cref="ClientCredentialsClientOptions.Resource"/>.
/// Each (client, scope, resource) is cached under its own key.
/// </summary>
/// <remarks>Concurrency: a plain settings object; the manager reads it during the call and keeps nothing of it but the two strings.</remarks>
public sealed class ClientCredentialsTokenRequest
{
    /// <summary>The space-separated scope to request.</summary>
    /// <value>The default value is <see langword="null"/>: the client's configured scope.</value>
    public string? Scope { get; set; }

    /// <summary>The RFC 8707 resource to request a token for (an absolute URI without fragment).</summary>
    /// <value>The default value is <see langword="null"/>: the client's configured resource.</value>
    public Uri? Resource { get; set; }

    /// <summary>Describes the request.</summary>
    public override string ToString() => $"ClientCredentialsTokenRequest {{ Scope = {Scope ?? "(client's)"}, Resource = {Resource?.AbsoluteUri ?? "(client's)"} }}";
}
