using System.Net;

namespace LockFree.Auth;

/// <summary>RFC 9728 discovery of a protected resource's metadata, for the handlers that need the resource's authorization server.</summary>
/// <remarks>Concurrency: stateless; callers coalesce and cache the result on the state core.</remarks>
internal static class ProtectedResourceDiscovery
{
    /// <summary>
    /// Reads the metadata of <paramref name="serverUrl"/>: from <paramref name="hint"/> (a challenge's
    /// <c>resource_metadata</c>) when given, then from the well-known locations (path-specific first, then the root).
    /// A location that answers with anything but <c>200</c> is skipped.
    /// </summary>
    /// <param name="httpClient">The back channel.</param>
    /// <param name="serverUrl">The protected resource the metadata must identify.</param>
    /// <param name="hint">A challenge's <c>resource_metadata</c>, tried first.</param>
    /// <param name="maxResponseBytes">The largest metadata document accepted.</param>
    /// <param name="onSkipped">Told about each location that answered with anything but <c>200</c> (for logging).</param>
    /// <param name="cancellationToken">Cancels the discovery.</param>
    /// <returns>The metadata, or <see langword="null"/> when no location has any.</returns>
    /// <exception cref="OAuthException">
    /// The metadata is malformed, or its <c>resource</c> does not identify <paramref name="serverUrl"/> (RFC 9728 §3.3:
    /// then nothing may be requested for it, <see cref="OAuthFailureReason.InvalidInput"/>).
    /// </exception>
    internal static async Task<ProtectedResourceMetadata?> DiscoverAsync(
        HttpClient httpClient, Uri serverUrl, Uri? hint, int maxResponseBytes, Action<Uri, int>? onSkipped, CancellationToken cancellationToken)
    {
        var locations = new List<Uri>();
        if (hint is not null)
        {
            locations.Add(hint);
        }

        foreach (var location in ProtectedResourceMetadata.WellKnownLocations(serverUrl))
        {
            if (!locations.Contains(location))
            {
                locations.Add(location);
            }
        }

        foreach (var location in locations)
        {
            OAuthEndpoint.Validate(location, ProtectedResourceMetadata.Purpose);
            using var request = OAuthHttp.CreateRequest(HttpMethod.Get, location);
            using var response = await OAuthHttp.SendAsync(httpClient, request, ProtectedResourceMetadata.Purpose, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                onSkipped?.Invoke(location, (int)response.StatusCode);
                continue;
            }

            var body = await OAuthHttp.ReadBodyAsync(response, location, ProtectedResourceMetadata.Purpose, maxResponseBytes, cancellationToken).ConfigureAwait(false);
            var metadata = ProtectedResourceMetadata.Parse(body, location);
            if (!ProtectedResourceMetadata.Covers(metadata.Resource, serverUrl))
            {
                throw new OAuthException(
                    $"The protected resource metadata at '{OAuthEndpoint.Describe(location)}' is for the resource '{OAuthEndpoint.Describe(metadata.Resource)}', which does not match the server '{OAuthEndpoint.Describe(serverUrl)}'; nothing was requested for it.",
                    OAuthFailureReason.InvalidInput,
                    location,
                    HttpStatusCode.OK);
            }

            return metadata;
        }

        return null;
    }
}
