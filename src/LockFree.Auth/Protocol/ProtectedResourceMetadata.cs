namespace LockFree.Auth.Protocol;

/// <summary>RFC 9728 protected resource metadata: what a client needs from it.</summary>
/// <param name="Resource">The resource identifier the metadata is about.</param>
/// <param name="AuthorizationServers">The issuers of the authorization servers that protect the resource (may be empty).</param>
/// <param name="ScopesSupported">The scopes the resource uses, if it said.</param>
/// <param name="Source">Where the metadata was read from.</param>
/// <remarks>Concurrency: immutable.</remarks>
internal sealed record ProtectedResourceMetadata(
    Uri Resource,
    IReadOnlyList<Uri> AuthorizationServers,
    IReadOnlyList<string>? ScopesSupported,
    Uri Source)
{
    /// <summary>Parses a metadata document.</summary>
    /// <param name="json">The response body.</param>
    /// <param name="source">Where it was read from (named in errors).</param>
    /// <returns>The metadata.</returns>
    /// <exception cref="OAuthException">The document is not a JSON object or a field is missing or of the wrong type (<see cref="OAuthFailureReason.MalformedResponse"/>).</exception>
    public static ProtectedResourceMetadata Parse(byte[] json, Uri source)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(source);
        using var document = OAuthHttp.ParseObject(json, source, Purpose);
        var reader = new OAuthJson(document.RootElement, source, Purpose);
        var resource = reader.GetUri("resource")
            ?? throw new OAuthException($"The {Purpose} '{OAuthEndpoint.Describe(source)}' returned a response without 'resource'.", OAuthFailureReason.MalformedResponse, source);
        var servers = new List<Uri>();
        foreach (var server in reader.GetStringArray("authorization_servers") ?? [])
        {
            servers.Add(OAuthEndpoint.TryParseAbsolute(server)
                ?? throw new OAuthException($"The {Purpose} '{OAuthEndpoint.Describe(source)}' returned an 'authorization_servers' entry that is not an absolute http(s) URI.", OAuthFailureReason.MalformedResponse, source));
        }

        return new ProtectedResourceMetadata(resource, servers.AsReadOnly(), reader.GetStringArray("scopes_supported"), source);
    }

    internal const string Purpose = "protected resource metadata endpoint";

    /// <summary>
    /// Whether <paramref name="resource"/> (from metadata) identifies <paramref name="serverUrl"/>: same scheme,
    /// host and port, and its path is the server URL's path or a segment-wise prefix of it (a trailing slash is
    /// ignored; query and fragment are not allowed in a resource identifier).
    /// </summary>
    internal static bool Covers(Uri resource, Uri serverUrl)
    {
        if (!string.Equals(resource.Scheme, serverUrl.Scheme, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(resource.IdnHost, serverUrl.IdnHost, StringComparison.OrdinalIgnoreCase)
            || resource.Port != serverUrl.Port
            || !string.IsNullOrEmpty(resource.Fragment)
            || resource.Query.Length > 1)
        {
            return false;
        }

        var resourcePath = resource.AbsolutePath.TrimEnd('/');
        var serverPath = serverUrl.AbsolutePath.TrimEnd('/');
        return resourcePath.Length == 0
            || string.Equals(resourcePath, serverPath, StringComparison.Ordinal)
            || (serverPath.StartsWith(resourcePath, StringComparison.Ordinal) && serverPath[resourcePath.Length] == '/');
    }

    /// <summary>The RFC 9728 well-known locations for <paramref name="serverUrl"/>: path-specific first, then the root.</summary>
    internal static IReadOnlyList<Uri> WellKnownLocations(Uri serverUrl)
    {
        var origin = new Uri(serverUrl.GetLeftPart(UriPartial.Authority) + "/");
        var root = new Uri(origin, ".well-known/oauth-protected-resource");
        var path = serverUrl.AbsolutePath.TrimEnd('/');
        return path.Length == 0
            ? [root]
            : [new Uri(origin, ".well-known/oauth-protected-resource" + path), root];
    }
}

