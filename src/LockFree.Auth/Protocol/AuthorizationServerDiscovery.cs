using System.Net;
using LockFree.Auth.Diagnostics;

namespace LockFree.Auth.Protocol;

/// <summary>
/// RFC 8414 / OpenID Connect discovery of <see cref="AuthorizationServerMetadata"/> for an issuer, and a coalescing
/// cache of the results on <see cref="AuthCoordinatorMap{TKey, T}"/>.
/// </summary>
/// <remarks>
/// <para>
/// Locations, in order: for an issuer with a path <c>/p</c>, <c>/.well-known/oauth-authorization-server/p</c>, then
/// <c>/.well-known/openid-configuration/p</c> (path insertion), then <c>/p/.well-known/openid-configuration</c>
/// (path appending); for an issuer without a path, <c>/.well-known/oauth-authorization-server</c> then
/// <c>/.well-known/openid-configuration</c>. A location that answers with a non-success status, or with a body that is
/// not a JSON object (an HTML page, for example), is skipped; a JSON object that is malformed or names another
/// issuer ends discovery with that error, because the server spoke for that issuer. Network failures (and the
/// back channel's deadline) end it too. A location that answers with a redirect is not followed and is skipped like
/// one without metadata; when no location has metadata and one redirected, discovery fails with
/// <see cref="OAuthFailureReason.RedirectRefused"/>.
/// </para>
/// <para>
/// Concurrency: <see cref="GetAsync"/> coalesces all callers of one issuer onto one discovery (one
/// <see cref="AuthCoordinator{T}"/> per issuer); the result never expires and is fetched again only after
/// <see cref="InvalidateAll"/>, which never blocks. A caller's token cancels only its own wait.
/// </para>
/// </remarks>
internal sealed class AuthorizationServerDiscovery : IDisposable
{
    private const string Purpose = "metadata endpoint";

    private readonly IBackChannel _backChannel;
    private readonly AuthCoordinatorMap<Uri, AuthorizationServerMetadata> _cache;

    /// <summary>Creates a discovery cache that fetches through <paramref name="backChannel"/>.</summary>
    /// <param name="backChannel">The back channel (its clock also drives the coordinators).</param>
    /// <param name="name">The coordinators' name (metrics).</param>
    /// <param name="capacity">The most issuers kept (see <see cref="AuthCoordinatorMap{TKey, T}"/>: expired or idle ones are evicted first).</param>
    /// <param name="instruments">Where the coordinators record; the static meter's when omitted.</param>
    internal AuthorizationServerDiscovery(IBackChannel backChannel, string name = "metadata", int capacity = AuthCoordinatorMap<Uri, AuthorizationServerMetadata>.DefaultCapacity, AuthInstruments? instruments = null)
    {
        ArgumentNullException.ThrowIfNull(backChannel);
        _backChannel = backChannel;
        var options = new AuthCoordinatorOptions { Name = name, Instruments = instruments };
        _cache = new AuthCoordinatorMap<Uri, AuthorizationServerMetadata>(
            issuer => new AuthCoordinator<AuthorizationServerMetadata>((_, ct) => DiscoverAsync(issuer, ct), null, backChannel.TimeProvider, options),
            capacity);
    }

    /// <summary>The metadata of <paramref name="issuer"/>: cached, or discovered once for every concurrent caller.</summary>
    internal Task<AuthorizationServerMetadata> GetAsync(Uri issuer, CancellationToken cancellationToken) =>
        _cache.For(issuer).GetAsync(cancellationToken);

    /// <summary>Forgets every issuer's metadata; discoveries in flight complete for their waiters but are not cached.</summary>
    internal void InvalidateAll() => _cache.InvalidateAll();

    /// <summary>The coordinator of <paramref name="issuer"/> (for statistics in tests).</summary>
    internal AuthCoordinator<AuthorizationServerMetadata> CoordinatorFor(Uri issuer) => _cache.For(issuer);

    /// <inheritdoc />
    public void Dispose() => _cache.Dispose();

    /// <summary>The discovery locations of <paramref name="issuer"/>, in the order they are tried.</summary>
    /// <exception cref="OAuthException"><see cref="OAuthFailureReason.InsecureEndpoint"/>: the issuer is not an https URI (http on loopback) without query and fragment.</exception>
    internal static IReadOnlyList<Uri> GetDiscoveryUris(Uri issuer)
    {
        OAuthEndpoint.Validate(issuer, "issuer");
        if (issuer.Query.Length > 0)
        {
            throw new OAuthException($"The issuer '{OAuthEndpoint.Describe(issuer)}' must not contain a query.", OAuthFailureReason.InsecureEndpoint, issuer);
        }

        var origin = issuer.GetLeftPart(UriPartial.Authority);
        var path = issuer.AbsolutePath.TrimEnd('/');
        if (path.Length == 0)
        {
            return
            [
                new Uri(origin + "/.well-known/oauth-authorization-server"),
                new Uri(origin + "/.well-known/openid-configuration"),
            ];
        }

        return
        [
            new Uri(origin + "/.well-known/oauth-authorization-server" + path),
            new Uri(origin + "/.well-known/openid-configuration" + path),
            new Uri(origin + path + "/.well-known/openid-configuration"),
        ];
    }

    /// <summary>Discovers the metadata of <paramref name="issuer"/> without caching.</summary>
    internal async Task<AuthorizationServerMetadata> DiscoverAsync(Uri issuer, CancellationToken cancellationToken)
    {
        var locations = GetDiscoveryUris(issuer);
        var misses = new Misses();
        if (await FindAsync(locations, legacy: false, misses, cancellationToken).ConfigureAwait(false) is { } found)
        {
            return AuthorizationServerMetadata.Parse(found.Body, issuer, found.Location);
        }

        if (misses.Redirect is { } redirect)
        {
            throw new OAuthException(
                $"No authorization server metadata was found for the issuer '{OAuthEndpoint.Describe(issuer)}': '{OAuthEndpoint.Describe(redirect.Endpoint!)}' answered with a redirect, which is not followed on the back channel.",
                OAuthFailureReason.RedirectRefused,
                redirect.Endpoint,
                redirect.StatusCode,
                innerException: redirect);
        }

        throw new OAuthException(
            $"No authorization server metadata was found for the issuer '{OAuthEndpoint.Describe(issuer)}' (tried {string.Join(", ", locations.Select(OAuthEndpoint.Describe))}).",
            OAuthFailureReason.MetadataNotFound,
            issuer,
            misses.First?.StatusCode,
            innerException: misses.First);
    }

    /// <summary>
    /// 2025-03-26 back-compat, without caching: the MCP server's <paramref name="origin"/> is the authorization base
    /// URL, so there is no issuer identifier to validate the metadata against (servers of that revision name e.g.
    /// <c>origin/oauth</c>); the issuer the metadata names is believed only on that origin (T7). Returns null when no
    /// location has metadata: the caller uses the default <c>/authorize</c>, <c>/token</c> and <c>/register</c> endpoints.
    /// A location that redirects ends discovery with <see cref="OAuthFailureReason.RedirectRefused"/>.
    /// </summary>
    internal async Task<AuthorizationServerMetadata?> DiscoverLegacyAsync(Uri origin, CancellationToken cancellationToken)
    {
        if (await FindAsync(GetDiscoveryUris(origin), legacy: true, new Misses(), cancellationToken).ConfigureAwait(false) is not { } found)
        {
            return null;
        }

        var named = OAuthEndpoint.TryParseAbsolute(found.Issuer) ?? origin;
        if (!UriOrigin.IsSame(named, origin))
        {
            // T7: the MCP server's own metadata may only describe an issuer on its own origin; a self-named issuer
            // elsewhere (another host's registration, refresh tokens or iss) is never believed.
            throw new OAuthException(
                $"The metadata at '{OAuthEndpoint.Describe(found.Location)}' names the issuer '{OAuthEndpoint.Describe(named)}', which is not on the MCP server's origin '{OAuthEndpoint.Describe(origin)}'; it was rejected.",
                OAuthFailureReason.IssuerMismatch,
                found.Location,
                HttpStatusCode.OK);
        }

        return AuthorizationServerMetadata.Parse(found.Body, named, found.Location);
    }

    /// <summary>
    /// The one discovery loop: the first of <paramref name="locations"/> that answers 200 with a JSON object (in
    /// <paramref name="legacy"/> mode, one whose <c>issuer</c>, if any, is a string), or null. Skipped locations are
    /// recorded in <paramref name="misses"/>. A redirect is skipped, except in legacy mode where it ends discovery.
    /// </summary>
    private async Task<(Uri Location, byte[] Body, string? Issuer)?> FindAsync(IReadOnlyList<Uri> locations, bool legacy, Misses misses, CancellationToken cancellationToken)
    {
        foreach (var location in locations)
        {
            BackChannelResponse response;
            try
            {
                response = await _backChannel.GetAsync(location, Purpose, cancellationToken).ConfigureAwait(false);
            }
            catch (OAuthException ex) when (ex.Reason == OAuthFailureReason.RedirectRefused && !legacy)
            {
                // Not followed, and nothing of it used: this location serves no metadata (a web application may
                // redirect unknown paths to a login page). If no other location has any, discovery fails with it.
                misses.Redirect ??= ex;
                continue;
            }

            if (response.StatusCode != HttpStatusCode.OK)
            {
                misses.First ??= new OAuthException(
                    $"The metadata endpoint '{OAuthEndpoint.Describe(location)}' returned HTTP {(int)response.StatusCode} ({response.StatusCode}).",
                    OAuthFailureReason.UnexpectedStatus,
                    location,
                    response.StatusCode);
                continue;
            }

            var body = response.Body;
            string? issuer;
            try
            {
                using var document = OAuthHttp.ParseObject(body, location, Purpose, HttpStatusCode.OK);
                issuer = legacy ? new OAuthJson(document.RootElement, location, Purpose).GetString("issuer") : null;
            }
            catch (OAuthException ex)
            {
                // Not JSON (an HTML page of a web application, for example): this location does not serve metadata.
                misses.First ??= ex;
                continue;
            }

            return (location, body, issuer);
        }

        return null;
    }

    /// <summary>Why locations were skipped, for the error when none had metadata (one discovery's, never shared).</summary>
    private sealed class Misses
    {
        internal OAuthException? First { get; set; }

        internal OAuthException? Redirect { get; set; }
    }
}
