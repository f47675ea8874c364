using System.Net;

namespace LockFree.Auth.Protocol;

/// <summary>RFC 9728 discovery of a protected resource's metadata, for the handlers that need the resource's authorization server.</summary>
/// <remarks>Concurrency: stateless (the back channel is immutable); callers coalesce and cache the result on the state core.</remarks>
internal static class ProtectedResourceDiscovery
{
    /// <summary>
    /// Reads the metadata of <paramref name="serverUrl"/>: from <paramref name="hint"/> (a challenge's
    /// <c>resource_metadata</c>) when given, then from the well-known locations (path-specific first, then the root).
    /// A location that answers with anything but <c>200</c> is skipped; so is one that answers with a redirect (never
    /// followed), but then, if no location has metadata, discovery fails rather than report that there is none.
    /// </summary>
    /// <param name="backChannel">The back channel (endpoint rule, no redirects, size limit, deadline).</param>
    /// <param name="serverUrl">The protected resource the metadata must identify.</param>
    /// <param name="hint">A challenge's <c>resource_metadata</c>, tried first.</param>
    /// <param name="onSkipped">Told about each location that answered with anything but <c>200</c> (for logging).</param>
    /// <param name="cancellationToken">Cancels the discovery.</param>
    /// <returns>The metadata, or <see langword="null"/> when no location has any.</returns>
    /// <exception cref="OAuthException">
    /// The metadata is malformed, or its <c>resource</c> does not identify <paramref name="serverUrl"/> (RFC 9728 §3.3:
    /// then nothing may be requested for it, <see cref="OAuthFailureReason.InvalidInput"/>); a location is not a usable
    /// endpoint (<see cref="OAuthFailureReason.InsecureEndpoint"/>); no location has metadata and one redirected
    /// (<see cref="OAuthFailureReason.RedirectRefused"/>); or the back channel failed.
    /// </exception>
    internal static async Task<ProtectedResourceMetadata?> DiscoverAsync(
        IBackChannel backChannel, Uri serverUrl, Uri? hint, Action<Uri, int>? onSkipped, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(backChannel);
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

        OAuthException? redirect = null;
        foreach (var location in locations)
        {
            BackChannelResponse response;
            try
            {
                response = await backChannel.GetAsync(location, ProtectedResourceMetadata.Purpose, cancellationToken).ConfigureAwait(false);
            }
            catch (OAuthException ex) when (ex.Reason == OAuthFailureReason.RedirectRefused)
            {
                redirect ??= ex;
                onSkipped?.Invoke(location, (int?)ex.StatusCode ?? 0);
                continue;
            }

            if (response.StatusCode != HttpStatusCode.OK)
            {
                onSkipped?.Invoke(location, (int)response.StatusCode);
                continue;
            }

            var metadata = ProtectedResourceMetadata.Parse(response.Body, location);
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

        if (redirect is not null)
        {
            throw new OAuthException(
                $"No protected resource metadata was found for '{OAuthEndpoint.Describe(serverUrl)}': '{OAuthEndpoint.Describe(redirect.Endpoint!)}' answered with a redirect, which is not followed on the back channel.",
                OAuthFailureReason.RedirectRefused,
                redirect.Endpoint,
                redirect.StatusCode,
                innerException: redirect);
        }

        return null;
    }
}
