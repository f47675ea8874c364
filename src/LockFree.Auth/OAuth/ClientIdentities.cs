using LockFree.Auth.Diagnostics;
using Microsoft.Extensions.Logging;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// The client identity used with each authorization server: pre-registered, restored from an
/// <see cref="IClientRegistrationCache"/>, a client ID metadata document, or registered (RFC 7591) through
/// <see cref="ClientRegistrationClient"/>. Resolution takes the <see cref="ServerMetadata"/> it is given.
/// </summary>
/// <remarks>
/// <para>
/// Concurrency: one <see cref="AuthCoordinator{T}"/> per issuer coalesces every caller onto one resolution (one
/// registration); a registration the server rejected is retired with <see cref="Retire"/> (conditionally, by client
/// ID), and the next resolution registers again without consulting the cache.
/// </para>
/// <para>
/// With <see cref="ClientOAuthOptions.SharedTokens"/>, replicas share one dynamic registration per issuer and
/// registration parameters (issue 13): the registration runs only while this replica holds the record's lease, the
/// others adopt it from the store (protected like tokens), and a retirement retires the shared record too, only while
/// it still holds the rejected client ID (<c>spec/distributed.md</c>).
/// </para>
/// </remarks>
internal sealed class ClientIdentities : IDisposable
{
    private readonly ClientOAuthSettings _settings;
    private readonly IssuerTrust _trust;
    private readonly ILogger _logger;
    private readonly ClientRegistrationClient _registration;
    private readonly TimeProvider _time;
    private readonly AuthInstruments _instruments;
    private readonly AuthCoordinatorMap<IssuerKey, ClientRegistration> _clients;

    /// <summary>Creates the resolver; registrations go through <paramref name="backChannel"/>, failed acquisitions are reported to <paramref name="onFailed"/>, measurements go to <paramref name="instruments"/>.</summary>
    internal ClientIdentities(IBackChannel backChannel, ClientOAuthSettings settings, IssuerTrust trust, TimeProvider time, ILogger logger, Action<Exception, bool> onFailed, AuthInstruments instruments)
    {
        _settings = settings;
        _trust = trust;
        _logger = logger;
        _registration = new ClientRegistrationClient(backChannel);
        _time = time;
        _instruments = instruments;
        var options = new AuthCoordinatorOptions { Name = "oauth.client", Instruments = instruments };
        _clients = new AuthCoordinatorMap<IssuerKey, ClientRegistration>(
            key => new AuthCoordinator<ClientRegistration>((context, ct) => ResolveAsync(key.Metadata, context.Previous, ct), null, time, options) { OnAcquisitionFailed = onFailed },
            settings.CacheCapacity);
    }

    /// <summary>The client identity for the authorization server of <paramref name="metadata"/>, resolved once for every concurrent caller.</summary>
    internal Task<ClientRegistration> GetAsync(ServerMetadata metadata, CancellationToken cancellationToken) =>
        _clients.For(new IssuerKey(metadata)).GetAsync(cancellationToken);

    /// <summary>Retires the registration <paramref name="clientId"/> of <paramref name="metadata"/>'s issuer if it is still the cached one.</summary>
    internal void Retire(ServerMetadata metadata, string clientId)
    {
        _clients.For(new IssuerKey(metadata)).Invalidate(static (registration, rejected) => registration.ClientId == rejected, clientId);
        if (_settings.SharedTokens is { } sharing && _settings.ClientId is null && metadata.RegistrationEndpoint is not null)
        {
            // The shared record too, but only while it still holds this client ID (a later registration stays): in the
            // background, a failure is logged (5010), never thrown at the caller whose request failed.
            _ = SharedRegistration(sharing, metadata, RegistrationRequest(metadata)).InvalidateInBackgroundAsync(SharedRegistrationCodec.ClientIdFingerprint(clientId));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _clients.Dispose();

    private async Task<ClientRegistration> ResolveAsync(ServerMetadata metadata, ClientRegistration? rejected, CancellationToken cancellationToken)
    {
        _trust.Demand(metadata.Issuer, metadata.ResourceMetadata?.Source);
        var server = metadata.AuthorizationServer;
        if (_settings.ClientId is { } clientId)
        {
            var method = ClientAuthentication.Negotiate(
                _settings.TokenEndpointAuthMethod, server?.TokenEndpointAuthMethodsSupported, _settings.ClientSecret is not null, metadata.Issuer, ClientIdentityKind.PreRegistered, _settings.HasSigningKey);
            return new ClientRegistration(clientId, _settings.ClientSecret, method);
        }

        if (_settings.TokenCache is IClientRegistrationCache registrations)
        {
            try
            {
                // Not after the server rejected a registration (rejected is the one retired by invalid_client).
                if (rejected is null && await registrations.GetClientRegistrationAsync(metadata.IssuerText, cancellationToken).ConfigureAwait(false) is { } restored)
                {
                    return restored;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.ClientOAuth.CacheReadFailed(_logger, ex.GetType());
            }
        }

        if (_settings.ClientMetadataDocumentUri is { } document && server?.ClientIdMetadataDocumentSupported == true)
        {
            var method = ClientAuthentication.Negotiate(_settings.TokenEndpointAuthMethod, null, false, null, ClientIdentityKind.MetadataDocument, _settings.HasSigningKey);
            return new ClientRegistration(document.OriginalString, null, method);
        }

        if (metadata.RegistrationEndpoint is { } registrationEndpoint)
        {
            var request = RegistrationRequest(metadata);
            if (_settings.SharedTokens is { } sharing)
            {
                // Issue 13: one registration for every replica. The registration runs only under the record's lease; a
                // replica that finds a live record adopts it; the rejected registration (Previous) is never adopted again.
                var shared = SharedRegistration(sharing, metadata, request);
                return await shared.AcquireAsync(new AcquisitionContext<ClientRegistration>(rejected, 0, false), cancellationToken).ConfigureAwait(false);
            }

            return await RegisterAsync(metadata, registrationEndpoint, request, cancellationToken).ConfigureAwait(false);
        }

        throw new OAuthException(
            $"No client identity for the authorization server '{metadata.IssuerText}': configure ClientId, or use a server that supports client ID metadata documents (with ClientMetadataDocumentUri) or dynamic client registration.",
            OAuthFailureReason.ClientAuthentication,
            metadata.Issuer);
    }

    /// <summary>
    /// The shared registration record of <paramref name="metadata"/>'s issuer and <paramref name="request"/>'s parameters
    /// (never its initial access token): two replicas asking for different registrations never share one.
    /// </summary>
    private SharedRecordAcquisition<ClientRegistration> SharedRegistration(TokenSharing sharing, ServerMetadata metadata, ClientRegistrationRequest request)
    {
        var key = sharing.KeyFor(
            "oauth.client",
            metadata.IssuerText,
            request.RedirectUri?.OriginalString ?? string.Empty,
            string.Join(' ', request.GrantTypes),
            request.TokenEndpointAuthMethod,
            request.ApplicationType,
            request.ClientName,
            request.ClientUri?.OriginalString ?? string.Empty);
        return sharing.Record(
            key,
            (context, ct) => RegisterAsync(metadata, metadata.RegistrationEndpoint!, request, ct),
            SharedRegistrationCodec.Instance,
            _time,
            sharing.Options.Name + ".registration",
            _instruments);
    }

    /// <summary>The RFC 7591 request for <paramref name="metadata"/>'s server: a pure function of the settings and the metadata.</summary>
    private ClientRegistrationRequest RegistrationRequest(ServerMetadata metadata)
    {
        var server = metadata.AuthorizationServer;
        var method = ClientAuthentication.Negotiate(
            _settings.TokenEndpointAuthMethod, server?.TokenEndpointAuthMethodsSupported, false, null, ClientIdentityKind.DynamicRegistration, _settings.HasSigningKey);
        var authorizationCode = _settings.GrantType == OAuthGrantType.AuthorizationCode;
        List<string> grantTypes = authorizationCode ? [OAuthConstants.GrantTypeAuthorizationCode] : [OAuthConstants.GrantTypeClientCredentials];
        if (authorizationCode
            && (server?.ScopesSupported?.Contains("offline_access") == true || server?.GrantTypesSupported?.Contains(OAuthConstants.GrantTypeRefreshToken) == true))
        {
            grantTypes.Add(OAuthConstants.GrantTypeRefreshToken);
        }

        return new ClientRegistrationRequest(
            authorizationCode ? _settings.RedirectUri : null,
            grantTypes,
            method,
            IsNativeRedirect(_settings.RedirectUri) ? "native" : "web",
            _settings.Registration?.ClientName ?? "LockFree.Auth MCP client",
            _settings.Registration?.ClientUri,
            _settings.Registration?.InitialAccessToken);
    }

    private async Task<ClientRegistration> RegisterAsync(ServerMetadata metadata, Uri endpoint, ClientRegistrationRequest request, CancellationToken cancellationToken)
    {
        var registered = await _registration.RegisterAsync(endpoint, request, cancellationToken).ConfigureAwait(false);
        var registration = new ClientRegistration(registered.ClientId, registered.ClientSecret, registered.TokenEndpointAuthMethod);
        Log.ClientOAuth.Registered(_logger, registration.ClientId, endpoint, registration.TokenEndpointAuthMethod);
        if (_settings.TokenCache is IClientRegistrationCache registrations)
        {
            try
            {
                await registrations.StoreClientRegistrationAsync(metadata.IssuerText, registration, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.ClientOAuth.CacheStoreFailed(_logger, ex.GetType());
            }
        }

        if (_settings.Registration?.ResponseDelegate is { } callback)
        {
            await callback(registration, cancellationToken).ConfigureAwait(false);
        }

        return registration;
    }

    /// <summary>SEP-837: a loopback or custom-scheme redirect (or none) is a native application.</summary>
    private static bool IsNativeRedirect(Uri? redirect) =>
        redirect is null || (redirect.Scheme != Uri.UriSchemeHttps && redirect.Scheme != Uri.UriSchemeHttp) || OAuthEndpoint.IsLoopbackHost(redirect);

    /// <summary>
    /// The map key: the issuer exactly as the metadata spelled it (equality and hash use only that), carrying the
    /// metadata that first asked for it, which is what that coordinator's resolutions use.
    /// </summary>
    private readonly struct IssuerKey(ServerMetadata metadata) : IEquatable<IssuerKey>
    {
        internal ServerMetadata Metadata { get; } = metadata;

        public bool Equals(IssuerKey other) => string.Equals(Metadata.IssuerText, other.Metadata.IssuerText, StringComparison.Ordinal);

        public override bool Equals(object? obj) => obj is IssuerKey other && Equals(other);

        public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Metadata.IssuerText);

        public override string ToString() => Metadata.IssuerText;
    }
}
