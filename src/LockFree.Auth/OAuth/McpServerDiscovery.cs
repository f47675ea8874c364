using LockFree.Auth.Diagnostics;
using Microsoft.Extensions.Logging;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// Discovery for one MCP server (protected resource): its resource metadata (RFC 9728, from the challenge's hint or
/// the well-known locations), the authorization server it names (trusted first, T3/T5), that server's metadata (RFC
/// 8414/OpenID, or the 2025-03-26 legacy rules when the resource has no metadata), folded into one <see cref="ServerMetadata"/>.
/// </summary>
/// <remarks>
/// Concurrency: one <see cref="AuthCoordinator{T}"/> per metadata hint coalesces every caller onto one discovery;
/// the result never expires and is read again only after <see cref="Retire"/> retired it (conditionally, by reference).
/// </remarks>
internal sealed class McpServerDiscovery : IDisposable
{
    private readonly Uri _serverUrl;
    private readonly IBackChannel _backChannel;
    private readonly ClientOAuthSettings _settings;
    private readonly IssuerTrust _trust;
    private readonly ILogger _logger;
    private readonly AuthorizationServerDiscovery _asDiscovery;
    private readonly AuthCoordinatorMap<string, ServerMetadata> _metadata;

    /// <summary>Creates the discovery of <paramref name="serverUrl"/>; acquisitions that fail are reported to <paramref name="onFailed"/>, measurements go to <paramref name="instruments"/>.</summary>
    internal McpServerDiscovery(Uri serverUrl, IBackChannel backChannel, ClientOAuthSettings settings, IssuerTrust trust, TimeProvider time, ILogger logger, Action<Exception, bool> onFailed, AuthInstruments instruments)
    {
        _serverUrl = serverUrl;
        _backChannel = backChannel;
        _settings = settings;
        _trust = trust;
        _logger = logger;
        _asDiscovery = new AuthorizationServerDiscovery(backChannel, "oauth.as-metadata", settings.CacheCapacity, instruments);
        var options = new AuthCoordinatorOptions { Name = "oauth.metadata", Instruments = instruments };
        _metadata = new AuthCoordinatorMap<string, ServerMetadata>(
            hint => new AuthCoordinator<ServerMetadata>((_, ct) => DiscoverAsync(hint, ct), null, time, options) { OnAcquisitionFailed = onFailed },
            settings.CacheCapacity);
    }

    /// <summary>The metadata for <paramref name="hint"/> (the resource metadata URL of a challenge; null: the well-known locations), discovered once for every concurrent caller.</summary>
    internal Task<ServerMetadata> GetAsync(string? hint, CancellationToken cancellationToken) =>
        _metadata.For(hint ?? string.Empty).GetAsync(cancellationToken);

    /// <summary>
    /// Retires <paramref name="used"/> wherever it is still the cached metadata (conditional, by reference), so the
    /// next exchange reads the metadata again; metadata read after it is kept.
    /// </summary>
    internal void Retire(ServerMetadata used)
    {
        foreach (var (_, coordinator) in _metadata.Entries)
        {
            coordinator.Invalidate(static (value, m) => ReferenceEquals(value, m), used);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _metadata.Dispose();
        _asDiscovery.Dispose();
    }

    private async Task<ServerMetadata> DiscoverAsync(string hint, CancellationToken cancellationToken)
    {
        var prm = await ProtectedResourceDiscovery.DiscoverAsync(
            _backChannel,
            _serverUrl,
            hint.Length > 0 ? OAuthEndpoint.TryParseAbsolute(hint) : null,
            (location, status) => Log.ClientOAuth.NoResourceMetadata(_logger, location, status),
            cancellationToken).ConfigureAwait(false);
        Uri issuer;
        if (prm is null)
        {
            // 2025-03-26 back-compat: no protected resource metadata: the server's origin is the authorization server.
            issuer = new Uri(_serverUrl.GetLeftPart(UriPartial.Authority));
        }
        else
        {
            if (prm.AuthorizationServers.Count == 0)
            {
                throw new OAuthException($"The protected resource metadata at '{OAuthEndpoint.Describe(prm.Source)}' names no authorization server.", OAuthFailureReason.MalformedResponse, prm.Source);
            }

            issuer = (_settings.AuthServerSelector ?? (static servers => servers[0]))(prm.AuthorizationServers)
                ?? throw new OAuthException("The AuthServerSelector chose none of the authorization servers of the protected resource.", OAuthFailureReason.InvalidInput, prm.Source);
        }

        // T3/T5: before any request to the authorization server, it must be trusted (configured, pinned, or the first one).
        _trust.Demand(issuer, prm?.Source ?? _serverUrl);

        AuthorizationServerMetadata? server;
        if (prm is null)
        {
            server = await _asDiscovery.DiscoverLegacyAsync(issuer, cancellationToken).ConfigureAwait(false);
            if (server is null)
            {
                Log.ClientOAuth.DefaultEndpoints(_logger, issuer);
            }
        }
        else
        {
            server = await _asDiscovery.GetAsync(issuer, cancellationToken).ConfigureAwait(false);
        }

        if (server is not null && _settings.GrantType == OAuthGrantType.AuthorizationCode
            && (server.CodeChallengeMethodsSupported is not { } methods || !methods.Contains("S256")))
        {
            // P1: the MCP authorization spec (2025-11-25): without advertised S256 the client MUST refuse to proceed.
            throw new OAuthException(
                $"The authorization server '{OAuthEndpoint.Describe(issuer)}' does not advertise PKCE with S256 (code_challenge_methods_supported); the authorization code grant is refused.",
                OAuthFailureReason.PkceNotSupported,
                issuer);
        }

        var origin = issuer.GetLeftPart(UriPartial.Authority);
        var tokenEndpoint = server is null ? new Uri(origin + "/token") : server.TokenEndpoint
            ?? throw new OAuthException($"The authorization server '{OAuthEndpoint.Describe(issuer)}' advertises no token_endpoint.", OAuthFailureReason.MalformedResponse, issuer);
        var authorizationEndpoint = server is null ? new Uri(origin + "/authorize") : server.AuthorizationEndpoint;
        if (authorizationEndpoint is null && _settings.GrantType == OAuthGrantType.AuthorizationCode)
        {
            throw new OAuthException($"The authorization server '{OAuthEndpoint.Describe(issuer)}' advertises no authorization_endpoint.", OAuthFailureReason.MalformedResponse, issuer);
        }

        var registrationEndpoint = server is null ? new Uri(origin + "/register") : server.RegistrationEndpoint;
        return new ServerMetadata(prm, prm?.Resource, server?.Issuer ?? issuer, server, authorizationEndpoint ?? tokenEndpoint, tokenEndpoint, registrationEndpoint);
    }
}
