using LockFree.Auth.Diagnostics;
using LockFree.Auth.Protocol;
using Microsoft.Extensions.Logging;

namespace LockFree.Auth.ClientCredentials;

/// <summary>
/// One validated client of a <see cref="ClientCredentialsTokenManager"/>: a snapshot of its options, its client
/// authentication, its back channel and (with an authority) its discovery cache; it performs one client-credentials
/// exchange per call of <see cref="AcquireAsync"/>. Caching and coalescing are the manager's.
/// </summary>
/// <remarks>Concurrency: immutable after construction; the discovery cache coalesces concurrent discoveries.</remarks>
internal sealed class ClientCredentialsClient : IDisposable
{
    private const string Purpose = "token endpoint";

    private readonly Uri? _tokenEndpoint;
    private readonly Uri? _authority;
    private readonly ClientAuthentication _authentication;
    private readonly TokenEndpointClient _tokenClient;
    private readonly AuthorizationServerDiscovery? _discovery;
    private readonly ILogger _logger;
    private readonly TokenSharing? _sharing;
    private readonly string _clientId;
    private readonly TimeProvider _time;
    private readonly AuthInstruments _instruments;

    /// <summary>Snapshots <paramref name="options"/> (validated by the caller); its coordinators record on <paramref name="instruments"/>.</summary>
    internal ClientCredentialsClient(string name, ClientCredentialsClientOptions options, Func<HttpClient> httpClient, TimeProvider time, ILoggerFactory? loggerFactory, ILogger logger, AuthInstruments instruments)
    {
        Name = name;
        _logger = logger;
        _sharing = options.SharedTokens;
        _clientId = options.ClientId!;
        _time = time;
        _instruments = instruments;
        _tokenEndpoint = options.TokenEndpoint;
        _authority = options.Authority;
        Scope = string.IsNullOrWhiteSpace(options.Scope) ? null : options.Scope;
        Resource = options.Resource?.AbsoluteUri;
        // The one negotiation of the protocol layer: the configured method, else private_key_jwt with a signing key, else
        // client_secret_basic (a pre-registered client).
        var method = ClientAuthentication.Negotiate(
            options.ClientAuthenticationMethod, supported: null, hasSecret: !string.IsNullOrEmpty(options.ClientSecret),
            kind: ClientIdentityKind.PreRegistered, hasSigningKey: options.ClientAssertionSigningCredentials is not null);
        var assertion = new ClientAssertionOptions(options.ClientAssertionSigningCredentials, options.ClientAssertionLifetime, options.ClientAssertionJwtType);
        _authentication = ClientAuthentication.Create(method, options.ClientId!, options.ClientSecret, assertion);
        var backChannel = new PerCallBackChannel(httpClient, time, options.MaxResponseBytes, options.BackChannelTimeout, loggerFactory?.CreateLogger(ClientCredentialsTokenManager.LoggerCategory));
        _tokenClient = new TokenEndpointClient(backChannel);
        _discovery = _authority is null ? null : new AuthorizationServerDiscovery(backChannel, $"client-credentials.{name}.metadata", capacity: 1, instruments);
        var expiry = options.TokenExpiry?.Clone() ?? new AuthCoordinatorOptions();
        expiry.Name = $"client-credentials.{name}";
        expiry.LoggerFactory ??= loggerFactory;
        expiry.Instruments = instruments;
        TokenExpiry = expiry;
    }

    /// <summary>The client's name.</summary>
    internal string Name { get; }

    /// <summary>The configured scope, or <see langword="null"/>.</summary>
    internal string? Scope { get; }

    /// <summary>The configured resource's absolute URI, or <see langword="null"/>.</summary>
    internal string? Resource { get; }

    /// <summary>The coordinator options of this client's tokens (a private copy, named after the client).</summary>
    internal AuthCoordinatorOptions TokenExpiry { get; }

    /// <summary>The cache key of <paramref name="request"/> (the configured scope and resource where it names none).</summary>
    /// <exception cref="ArgumentException">The request's resource is not an absolute URI without fragment.</exception>
    internal TokenKey KeyFor(ClientCredentialsTokenRequest? request)
    {
        if (request is null)
        {
            return new TokenKey(Name, Scope, Resource);
        }

        if (request.Resource is { } resource && !ClientCredentialsClientOptions.IsResource(resource))
        {
            throw new ArgumentException("The requested Resource must be an absolute URI without fragment (RFC 8707).", nameof(request));
        }

        return new TokenKey(
            Name,
            string.IsNullOrWhiteSpace(request.Scope) ? Scope : request.Scope,
            request.Resource?.AbsoluteUri ?? Resource);
    }

    /// <summary>
    /// One client-credentials exchange for <paramref name="key"/> (after discovery when an authority is configured); with
    /// <see cref="ClientCredentialsClientOptions.SharedTokens"/>, a usable token another replica published is adopted
    /// instead, and the exchange runs only while this replica holds the shared record's lease.
    /// </summary>
    internal async Task<ClientCredentialsToken> AcquireAsync(TokenKey key, AcquisitionContext<ClientCredentialsToken> context, CancellationToken cancellationToken)
    {
        if (_sharing is not { } sharing)
        {
            return new ClientCredentialsToken(await ExchangeAsync(key, context.IsBackgroundRefresh, cancellationToken).ConfigureAwait(false));
        }

        // Issuer binding (T3): the exchange stamps the discovered issuer (the authority: discovery validates that the
        // metadata names it; none with a configured token endpoint); a shared token set of another issuer is never adopted.
        var shared = sharing.Acquisition(
            SharedKey(sharing, key),
            (_, ct) => ExchangeAsync(key, context.IsBackgroundRefresh, ct),
            IsOwnIssuer,
            _time,
            _instruments);
        var previous = context.Previous is { } p ? new TokenContainer { AccessToken = p.AccessToken } : null;
        var result = await shared.AcquireAsync(new AcquisitionContext<TokenContainer>(previous, context.Generation, context.IsBackgroundRefresh), cancellationToken).ConfigureAwait(false);
        return new ClientCredentialsToken(result);
    }

    /// <summary>After <paramref name="rejectedAccessToken"/> was rejected: retires the shared record of <paramref name="key"/> if it still holds it (in the background).</summary>
    internal void InvalidateShared(TokenKey key, string rejectedAccessToken)
    {
        if (_sharing is { } sharing)
        {
            sharing.InvalidateInBackground(SharedKey(sharing, key), new TokenContainer { AccessToken = rejectedAccessToken }, _time, _instruments);
        }
    }

    /// <summary>The shared record key: the identity, the configured token endpoint or authority, scope, resource and client ID.</summary>
    private string SharedKey(TokenSharing sharing, TokenKey key) =>
        sharing.KeyFor("client-credentials", (_tokenEndpoint ?? _authority)!.AbsoluteUri, key.Scope ?? string.Empty, key.Resource ?? string.Empty, _clientId);

    /// <summary>Whether a shared token set was issued by this client's server: its authority, or no issuer with a configured token endpoint.</summary>
    private bool IsOwnIssuer(TokenContainer token) =>
        _authority is null
            ? token.Issuer is null
            : Uri.TryCreate(token.Issuer, UriKind.Absolute, out var issuer) && issuer == _authority;

    private async Task<TokenContainer> ExchangeAsync(TokenKey key, bool background, CancellationToken cancellationToken)
    {
        Uri endpoint;
        Uri? issuer = null;
        IReadOnlyList<string>? signingAlgorithms = null;
        if (_tokenEndpoint is { } configured)
        {
            endpoint = configured;
        }
        else
        {
            var metadata = await _discovery!.GetAsync(_authority!, cancellationToken).ConfigureAwait(false);
            issuer = metadata.Issuer;
            signingAlgorithms = metadata.TokenEndpointAuthSigningAlgValuesSupported;
            endpoint = metadata.TokenEndpoint ?? throw new OAuthException(
                $"The authorization server metadata of '{OAuthEndpoint.Describe(_authority!)}' names no token_endpoint.",
                OAuthFailureReason.MalformedResponse,
                _authority);
        }

        var parameters = new List<KeyValuePair<string, string>>(3) { new("grant_type", OAuthConstants.GrantTypeClientCredentials) };
        if (key.Scope is { } scope)
        {
            parameters.Add(new("scope", scope));
        }

        if (key.Resource is { } resource)
        {
            parameters.Add(new("resource", resource));
        }

        Log.ClientCredentials.Requesting(_logger, Name, endpoint, background);
        var response = await _tokenClient.RequestAsync(
            new TokenRequest
            {
                Endpoint = endpoint,
                Parameters = parameters,
                Authentication = _authentication,
                Issuer = issuer,
                AuthSigningAlgorithms = signingAlgorithms,
                Purpose = Purpose,
                RequiredTokenType = OAuthConstants.Bearer,
            },
            cancellationToken).ConfigureAwait(false);
        Log.ClientCredentials.Obtained(_logger, Name, response.Tokens.ExpiresIn);
        return response.Tokens with { Issuer = issuer?.OriginalString };
    }

    /// <inheritdoc />
    public void Dispose() => _discovery?.Dispose();

    /// <summary>Describes the client without secrets.</summary>
    public override string ToString() => $"{Name}: {_authentication} at {(_tokenEndpoint is { } e ? OAuthEndpoint.Describe(e) : "the token endpoint of " + OAuthEndpoint.Describe(_authority!))}";
}
