using LockFree.Auth.Diagnostics;
using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.CrossAppAccess;

/// <summary>
/// Obtains access tokens for MCP resources through enterprise-managed authorization (cross-app access, the Identity
/// Assertion JWT Authorization Grant): the user's ID token is exchanged at the enterprise IdP for an ID-JAG (RFC 8693),
/// which the resource's authorization server exchanges for an access token (RFC 7523 jwt-bearer).
/// </summary>
/// <remarks>
/// <para>
/// Flow of one exchange for (resource, authorization server): discover the authorization server's metadata (RFC 8414 with
/// path insertion, then OpenID discovery; <c>issuer</c> validated) → ask <see cref="CrossApplicationAccessProviderOptions.IdTokenCallback"/>
/// for the ID token → token exchange at the IdP token endpoint (configured, or discovered from
/// <see cref="CrossApplicationAccessProviderOptions.IdpUrl"/>) with <c>audience</c> = the authorization server's issuer and
/// <c>resource</c> = the resource; <c>issued_token_type</c> must be the ID-JAG type → jwt-bearer grant at the authorization
/// server's token endpoint with the configured or negotiated client authentication; <c>token_type</c> must be Bearer.
/// </para>
/// <para>
/// Concurrency: every member is safe to call from any thread, concurrently, and from inside
/// <see cref="CrossApplicationAccessProviderOptions.IdTokenCallback"/>; nothing takes a lock or blocks.
/// Tokens are cached per key (resource, authorization server), each key on its own <see cref="AuthCoordinator{T}"/>: a key
/// never receives another key's token and never waits for another key's exchange. Concurrent
/// <see cref="GetAccessTokenAsync"/> calls for one key that find no usable token share one exchange (one ID token callback,
/// one IdP exchange, one authorization-server grant) and all receive the same <see cref="TokenContainer"/> instance.
/// Authorization-server metadata and the IdP's discovered metadata are cached once per issuer, shared by all keys and
/// coalesced the same way. A cached, unexpired token is returned without allocating and without any I/O; tokens are
/// refreshed ahead of expiry and never returned once expired (skew and refresh-ahead per
/// <see cref="CrossApplicationAccessProviderOptions.TokenCacheOptions"/>). A caller's <see cref="CancellationToken"/>
/// cancels only its own wait: the exchange runs on its own token, cancelled only when every waiter has left or the
/// provider is disposed. <see cref="InvalidateCache()"/> and <see cref="InvalidateCache(string)"/> never block and never
/// wait for an exchange in flight; an exchange in flight when <see cref="InvalidateCache()"/> runs still completes for
/// its waiters, but its result is not cached. Failures are delivered to every waiter of the failed exchange as one
/// <see cref="CrossApplicationAccessException"/>; nothing is cached and the next call starts a new exchange.
/// </para>
/// </remarks>
public sealed class CrossApplicationAccessProvider : IDisposable
{
    private const string IdpPurpose = "identity provider token endpoint";
    private const string AsPurpose = "authorization server token endpoint";

    private readonly CrossAppSettings _settings;
    private readonly TokenEndpointClient _tokenClient;
    private readonly AuthorizationServerDiscovery _discovery;
    private readonly AuthCoordinatorMap<TokenKey, TokenContainer> _tokens;

    // RFC 9728 protected resource metadata for the handlers (ResourceMetadataCache).
    private readonly ResourceMetadataCache _resourceMetadata;
    private readonly ILogger _logger;
    private readonly IssuerTrust _trust;
    private readonly TimeProvider _time;

    // Where every coordinator of this provider (and its shared acquisitions) records: the meter of
    // CrossApplicationAccessProviderOptions.MeterFactory, else the static meter. Written once by the constructor.
    private readonly AuthInstruments _instruments;

    // 0 = live, 1 = disposed: set once by Dispose, read by the slow path before it may create a key or start work.
    private int _disposed;

    // Every access token this provider may still serve, mapped to the key and coordinator that may hold it, so that
    // InvalidateCache(string) looks one token up instead of walking every key. Written only by RecordIssued (an Update
    // whose transform is free of side effects), read once per call. Invariant: a token is recorded before its
    // coordinator can publish it (inside the acquisition, before it returns) and removed only once that coordinator can
    // neither hold nor publish it any more (see Prune).
    private readonly AuthCell<ImmutableDictionary<string, KeyEntry>> _issued = new(ImmutableDictionary.Create<string, KeyEntry>(StringComparer.Ordinal));

    // The last key served, so the fast path compares two references instead of hashing two URIs. Written with a plain
    // reference store of an immutable object (atomic); a stale read only means taking the slow path once.
    private volatile KeyEntry? _last;

    /// <summary>Creates a provider.</summary>
    /// <param name="options">The configuration; copied, so later changes have no effect.</param>
    /// <param name="httpClient">The client every request goes through (metadata, IdP, authorization server); not disposed by the provider. Redirects are never followed: a 3xx, or a redirect the handler followed, fails with <see cref="OAuthFailureReason.RedirectRefused"/>; prefer a handler with <c>AllowAutoRedirect = false</c>, and never one that buffers request bodies above an auto-redirecting handler (see <c>spec/security.md</c>, B1).</param>
    /// <param name="loggerFactory">Where to log (never tokens or secrets); no logging when omitted.</param>
    /// <param name="timeProvider">The clock and timers; <see cref="TimeProvider.System"/> when omitted.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="httpClient"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is missing or invalid; the message and <see cref="ArgumentException.ParamName"/> name it.</exception>
    public CrossApplicationAccessProvider(
        CrossApplicationAccessProviderOptions options,
        HttpClient httpClient,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null)
        : this(options, httpClient ?? throw new ArgumentNullException(nameof(httpClient)), null, loggerFactory, timeProvider)
    {
    }

    /// <summary>
    /// For the Coyote suite: a provider whose back-channel requests all go to <paramref name="backChannel"/> (an in-memory
    /// fake of the endpoints). <paramref name="seededBugTrust"/>: only the suite's seeded bug
    /// <c>CrossApp.IssuerPinCheckThenSet</c> passes one (an <see cref="IssuerTrust"/> whose pin is not a CAS); null otherwise.
    /// </summary>
    internal static CrossApplicationAccessProvider OverBackChannel(CrossApplicationAccessProviderOptions options, IBackChannel backChannel, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IssuerTrust? seededBugTrust = null) =>
        new(options, null, backChannel ?? throw new ArgumentNullException(nameof(backChannel)), loggerFactory, timeProvider, seededBugTrust);

    private CrossApplicationAccessProvider(CrossApplicationAccessProviderOptions options, HttpClient? httpClient, IBackChannel? backChannel, ILoggerFactory? loggerFactory, TimeProvider? timeProvider, IssuerTrust? seededBugTrust = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _settings = CrossAppSettings.From(options);
        _trust = seededBugTrust ?? new IssuerTrust(options.TrustedAuthorizationServers, CrossAppSettings.Option(nameof(CrossApplicationAccessProviderOptions.TrustedAuthorizationServers)), pinOnFirstUse: true);
        var time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<CrossApplicationAccessProvider>();
        _time = time;
        backChannel ??= CreateBackChannel(httpClient!, _logger);
        _tokenClient = new TokenEndpointClient(backChannel);
        _instruments = AuthInstruments.For(options.MeterFactory);
        _discovery = new AuthorizationServerDiscovery(backChannel, "cross-app-access.metadata", _settings.CacheCapacity, _instruments);
        // The core's Debug events (Log.Core) go to the provider's logger factory unless the user gave the cache its own.
        var tokenOptions = _settings.TokenCacheOptions;
        if (tokenOptions is not null)
        {
            tokenOptions.LoggerFactory ??= loggerFactory;
            tokenOptions.Instruments = _instruments;
        }

        _tokens = new AuthCoordinatorMap<TokenKey, TokenContainer>(
            key => CreateCoordinator(key, time, tokenOptions),
            _settings.CacheCapacity);
        _resourceMetadata = new ResourceMetadataCache(time, _settings.CacheCapacity, loggerFactory, _instruments);
    }

    private AuthCoordinator<TokenContainer> CreateCoordinator(TokenKey key, TimeProvider time, AuthCoordinatorOptions? tokenOptions)
    {
        // The acquisition records its token against its own coordinator; it runs only after the constructor returned.
        AuthCoordinator<TokenContainer>? self = null;
        self = new AuthCoordinator<TokenContainer>((context, ct) => AcquireAsync(key, self!, context, ct), static token => token.ExpiresAt, time, tokenOptions)
        {
                // O1: a failed background refresh nobody waits for is logged (the core observes and counts it).
                OnAcquisitionFailed = (exception, background) =>
                {
                    if (background)
                    {
                        Log.CrossApp.BackgroundRefreshFailed(_logger, key.Resource, key.AuthorizationServer, exception.GetType(), (exception as OAuthException)?.Reason ?? OAuthFailureReason.Unspecified);
                    }
                },
        };
        return self;
    }

    /// <summary>
    /// Returns an access token for <paramref name="resourceUrl"/> issued by <paramref name="authorizationServerUrl"/>: the
    /// cached one while it is usable, otherwise the result of the one exchange in flight for that key (started if none is).
    /// </summary>
    /// <param name="resourceUrl">The protected resource (MCP server); sent as <c>resource</c> to the IdP.</param>
    /// <param name="authorizationServerUrl">The resource's authorization server (its issuer), as found in its protected resource metadata.</param>
    /// <param name="cancellationToken">Cancels this caller's wait only; the shared exchange continues for other waiters.</param>
    /// <returns>The token; every caller served by one exchange receives the same instance.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">A URL is not absolute.</exception>
    /// <exception cref="CrossApplicationAccessException">The exchange failed (delivered through the task).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (delivered through the task).</exception>
    /// <exception cref="ObjectDisposedException">The provider was disposed (delivered through the task).</exception>
    public Task<TokenContainer> GetAccessTokenAsync(Uri resourceUrl, Uri authorizationServerUrl, CancellationToken cancellationToken = default)
    {
        // Fast path: two reference comparisons, then the coordinator's one volatile read of its cached completed task.
        var last = _last;
        if (last is not null && ReferenceEquals(last.Resource, resourceUrl) && ReferenceEquals(last.AuthorizationServer, authorizationServerUrl))
        {
            return last.Coordinator.GetAsync(cancellationToken);
        }

        return GetForKeyAsync(resourceUrl, authorizationServerUrl, cancellationToken);
    }

    /// <summary>
    /// Forgets every cached token, the authorization servers' metadata and the IdP's metadata. Never blocks; exchanges in
    /// flight complete for their waiters, but their results are not cached, and the next call starts a new exchange.
    /// O(1) in the number of keys and allocation-free: each cache advances its invalidation epoch (I11).
    /// </summary>
    public void InvalidateCache()
    {
        // Metadata first: an exchange that starts between the two steps is discarded by the token invalidation, so
        // every token cached after this returns was obtained with metadata fetched after it started.
        _discovery.InvalidateAll();
        _tokens.InvalidateAll();
        Log.CrossApp.InvalidatedAll(_logger);
    }

    /// <summary>
    /// Forgets the cached token whose access token is <paramref name="rejectedAccessToken"/> (for example after the
    /// resource answered 401 with it), only if it is still cached. A newer token, or an exchange already in flight, is
    /// kept. Never blocks; one lookup of the token (not a walk over the keys), allocation-free.
    /// </summary>
    /// <param name="rejectedAccessToken">The access token the resource rejected.</param>
    /// <returns><see langword="true"/> if a cached token was retired by this call.</returns>
    public bool InvalidateCache(string rejectedAccessToken)
    {
        ArgumentNullException.ThrowIfNull(rejectedAccessToken);

        // Every token that may be cached is in the index (see _issued); one that is not was never issued here or can
        // no longer be served. The coordinator's own CAS decides (I4): it retires the value only if it is still this token.
        if (!_issued.Current.TryGetValue(rejectedAccessToken, out var entry)
            || !entry.Coordinator.Invalidate(static (token, rejected) => string.Equals(token.AccessToken, rejected, StringComparison.Ordinal), rejectedAccessToken))
        {
            return false;
        }

        Log.CrossApp.InvalidatedRejected(_logger, entry.Resource, entry.AuthorizationServer);
        if (_settings.SharedTokens is { } sharing)
        {
            // The replicas' copy too, only if the shared record still holds this token (conditional in the store as
            // well); in the background, never on a caller's token, a failure logged.
            sharing.InvalidateInBackground(SharedKey(sharing, entry.Resource, entry.AuthorizationServer), new TokenContainer { AccessToken = rejectedAccessToken }, _time, _instruments);
        }

        return true;
    }

    /// <summary>Cancels every exchange in flight and releases the timers; later calls fail with <see cref="ObjectDisposedException"/>. The <see cref="HttpClient"/> is not disposed.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _tokens.Dispose();
        _discovery.Dispose();
        _resourceMetadata.Dispose();
    }

    /// <summary>
    /// For <see cref="CrossApplicationAccessHandler"/>: the protected resource metadata of <paramref name="serverUrl"/>,
    /// read through <paramref name="backChannel"/> from <paramref name="location"/> (a challenge's <c>resource_metadata</c>
    /// on the resource's origin; empty: the well-known locations). Discovered once per location and shared by concurrent
    /// callers; the caller's token cancels only its own wait.
    /// </summary>
    internal Task<ResourceMetadataDiscovery> GetResourceMetadataAsync(IBackChannel backChannel, Uri serverUrl, string location, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return Task.FromException<ResourceMetadataDiscovery>(new ObjectDisposedException(nameof(CrossApplicationAccessProvider)));
        }

        return _resourceMetadata.GetAsync(backChannel, serverUrl, location, cancellationToken);
    }

    /// <summary>
    /// For <see cref="CrossApplicationAccessHandler"/> after a <c>401</c>: forgets the metadata found at
    /// <paramref name="location"/> only if it is still <paramref name="used"/>, so a stale <c>401</c> does not re-read
    /// metadata that a concurrent request already replaced (I4).
    /// </summary>
    internal void RetireResourceMetadata(IBackChannel backChannel, Uri serverUrl, string location, ResourceMetadataDiscovery used) =>
        _resourceMetadata.Retire(backChannel, serverUrl, location, used);

    /// <summary>The coordinator of a key (for tests and statistics).</summary>
    internal AuthCoordinator<TokenContainer> CoordinatorFor(Uri resourceUrl, Uri authorizationServerUrl) =>
        _tokens.For(new TokenKey(resourceUrl, authorizationServerUrl));

    /// <summary>A back channel over <paramref name="httpClient"/> with this provider's clock, deadline and response-size limit (the handler's back channel for resource-metadata discovery, which this provider runs).</summary>
    internal IBackChannel CreateBackChannel(HttpClient httpClient, ILogger? logger = null) => new BackChannel(httpClient, _time, _settings.MaxResponseBytes, _settings.BackChannelTimeout, logger ?? _logger);

    /// <summary>The metadata cache (for tests and statistics).</summary>
    internal AuthorizationServerDiscovery Discovery => _discovery;

    private Task<TokenContainer> GetForKeyAsync(Uri resourceUrl, Uri authorizationServerUrl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resourceUrl);
        ArgumentNullException.ThrowIfNull(authorizationServerUrl);
        if (!resourceUrl.IsAbsoluteUri)
        {
            throw new ArgumentException("The resource URL must be an absolute URI.", nameof(resourceUrl));
        }

        if (!authorizationServerUrl.IsAbsoluteUri)
        {
            throw new ArgumentException("The authorization server URL must be an absolute URI.", nameof(authorizationServerUrl));
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            return Task.FromException<TokenContainer>(new ObjectDisposedException(nameof(CrossApplicationAccessProvider)));
        }

        // Equal URIs in other instances (a caller that builds its Uri per call): compare with the last key before
        // hashing, and keep the entry so this path allocates nothing either.
        var last = _last;
        if (last is not null && !last.Coordinator.IsEvicted && last.Resource.Equals(resourceUrl) && last.AuthorizationServer.Equals(authorizationServerUrl))
        {
            return last.Coordinator.GetAsync(cancellationToken);
        }

        // The last key was checked when it was created; a key used since can hold only a token of the pinned server.
        if (!_trust.IsTrusted(authorizationServerUrl))
        {
            // T5: the client secret, assertions and ID-JAGs go only to a trusted (configured or pinned) authorization
            // server; an untrusted one gets no key, no discovery and no exchange.
            return Task.FromException<TokenContainer>(Untrusted(authorizationServerUrl));
        }

        var coordinator = _tokens.For(new TokenKey(resourceUrl, authorizationServerUrl));
        _last = new KeyEntry(resourceUrl, authorizationServerUrl, coordinator);
        return coordinator.GetAsync(cancellationToken);
    }

    /// <summary>
    /// One acquisition for <paramref name="key"/>, run by the key's coordinator on its own token: the exchange, or with
    /// <see cref="CrossApplicationAccessProviderOptions.SharedTokens"/> the shared record's token (adopted when usable,
    /// else exchanged by the one replica holding the lease).
    /// </summary>
    private async Task<TokenContainer> AcquireAsync(TokenKey key, AuthCoordinator<TokenContainer> coordinator, AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        if (_settings.SharedTokens is not { } sharing)
        {
            return await ExchangeAsync(key, coordinator, context, cancellationToken).ConfigureAwait(false);
        }

        if (!_trust.IsTrusted(key.AuthorizationServer))
        {
            throw Untrusted(key.AuthorizationServer); // T5: before the store is read
        }

        var issuer = IssuerTrust.Normalize(key.AuthorizationServer);
        var shared = sharing.Acquisition(
            SharedKey(sharing, key.Resource, key.AuthorizationServer),
            (c, ct) => ExchangeAsync(key, coordinator, c, ct),
            t => t.Issuer is { } iss && OAuthEndpoint.TryParseAbsolute(iss) is { } uri && IssuerTrust.Normalize(uri) == issuer,
            _time,
            _instruments);
        var tokens = await shared.AcquireAsync(context, cancellationToken).ConfigureAwait(false);
        if (!_trust.Pin(key.AuthorizationServer))
        {
            throw Untrusted(key.AuthorizationServer); // another server was pinned first; this token is not served
        }

        // An adopted token is recorded like an exchanged one (the same entry again for an exchanged one), before the
        // coordinator can publish it.
        RecordIssued(tokens.AccessToken, new KeyEntry(key.Resource, key.AuthorizationServer, coordinator, context.Generation));
        return tokens;
    }

    /// <summary>The shared record key of (identity, resource, authorization server) (issue 13).</summary>
    private static string SharedKey(TokenSharing sharing, Uri resource, Uri authorizationServer) =>
        sharing.KeyFor("cross-app", resource.AbsoluteUri, IssuerTrust.Normalize(authorizationServer));

    /// <summary>One exchange for <paramref name="key"/>, run by the key's coordinator on its own token.</summary>
    private async Task<TokenContainer> ExchangeAsync(TokenKey key, AuthCoordinator<TokenContainer> coordinator, AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        var step = "authorization server metadata discovery";
        try
        {
            Log.CrossApp.ExchangeStarting(_logger, key.Resource, key.AuthorizationServer, context.IsBackgroundRefresh);
            if (!_trust.IsTrusted(key.AuthorizationServer))
            {
                throw Untrusted(key.AuthorizationServer); // pinned to another server since this key was created
            }

            var metadata = await _discovery.GetAsync(key.AuthorizationServer, cancellationToken).ConfigureAwait(false);
            var asTokenEndpoint = metadata.TokenEndpoint
                ?? throw new CrossApplicationAccessException(
                    $"The authorization server '{OAuthEndpoint.Describe(key.AuthorizationServer)}' publishes no token_endpoint in its metadata.",
                    OAuthFailureReason.MalformedResponse,
                    key.AuthorizationServer);
            var asAuthentication = ClientAuthentication.Create(
                ClientAuthentication.Negotiate(_settings.TokenEndpointAuthMethod, metadata.TokenEndpointAuthMethodsSupported, _settings.ClientSecret is not null, metadata.Issuer),
                _settings.ClientId,
                _settings.ClientSecret,
                assertion: null);

            step = "identity provider discovery";
            var (idpEndpoint, idpAuthentication) = await ResolveIdpAsync(cancellationToken).ConfigureAwait(false);

            step = "ID token callback";
            var idToken = await _settings.IdTokenCallback(new CrossApplicationAccessContext(key.Resource, key.AuthorizationServer), cancellationToken).ConfigureAwait(false);
            if (string.IsNullOrWhiteSpace(idToken))
            {
                throw new CrossApplicationAccessException(
                    "The IdTokenCallback returned an empty ID token.",
                    OAuthFailureReason.InvalidInput);
            }

            step = "token exchange at the identity provider";
            List<KeyValuePair<string, string>> exchange =
            [
                new("grant_type", OAuthConstants.GrantTypeTokenExchange),
                new("requested_token_type", OAuthConstants.TokenTypeIdJag),
                new("subject_token", idToken),
                new("subject_token_type", OAuthConstants.TokenTypeIdToken),
                new("audience", metadata.Issuer.OriginalString),
                new("resource", key.Resource.OriginalString),
            ];
            if (_settings.IdpScope is { } idpScope)
            {
                exchange.Add(new("scope", idpScope));
            }

            var jag = await _tokenClient.RequestAsync(
                new TokenRequest
                {
                    Endpoint = idpEndpoint,
                    Parameters = exchange,
                    Authentication = idpAuthentication,
                    Issuer = _settings.IdpIssuer,
                    Purpose = IdpPurpose,
                    RequiredIssuedTokenType = OAuthConstants.TokenTypeIdJag,
                },
                cancellationToken).ConfigureAwait(false);
            Log.CrossApp.IdJagObtained(_logger, key.Resource, OAuthEndpoint.Describe(idpEndpoint));

            step = "JWT bearer grant at the authorization server";

            // T3: the pin is claimed before the first request that carries the client's credentials and the ID-JAG to this
            // authorization server (a compare-and-swap: of two first uses racing with different servers exactly one
            // sends anything; the other is refused here).
            if (!_trust.Pin(key.AuthorizationServer))
            {
                throw Untrusted(key.AuthorizationServer);
            }

            List<KeyValuePair<string, string>> grant =
            [
                new("grant_type", OAuthConstants.GrantTypeJwtBearer),
                new("assertion", jag.Tokens.AccessToken),
            ];
            if (_settings.Scope is { } scope)
            {
                grant.Add(new("scope", scope));
            }

            var response = await _tokenClient.RequestAsync(
                new TokenRequest
                {
                    Endpoint = asTokenEndpoint,
                    Parameters = grant,
                    Authentication = asAuthentication,
                    Issuer = metadata.Issuer,
                    AuthSigningAlgorithms = metadata.TokenEndpointAuthSigningAlgValuesSupported,
                    Purpose = AsPurpose,
                    RequiredTokenType = OAuthConstants.Bearer,
                },
                cancellationToken).ConfigureAwait(false);
            Log.CrossApp.AccessTokenObtained(_logger, key.Resource, key.AuthorizationServer, response.Tokens.ExpiresIn);
            var tokens = response.Tokens with { Issuer = metadata.Issuer.OriginalString };

            // Recorded before this acquisition returns, so before its coordinator can publish the token.
            RecordIssued(tokens.AccessToken, new KeyEntry(key.Resource, key.AuthorizationServer, coordinator, context.Generation));
            return tokens;
        }
        catch (CrossApplicationAccessException ex)
        {
            Log.CrossApp.ExchangeFailed(_logger, key.Resource, key.AuthorizationServer, step, ex.Reason, ex.Error);
            throw;
        }
        catch (OAuthException ex)
        {
            Log.CrossApp.ExchangeFailed(_logger, key.Resource, key.AuthorizationServer, step, ex.Reason, ex.Error);
            throw new CrossApplicationAccessException($"Cross-app access to '{OAuthEndpoint.Describe(key.Resource)}' failed during the {step}: {ex.Message}", ex);
        }
        catch (Exception ex) when (step == "ID token callback" && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            // Includes a cancellation the callback raised on its own (its own timeout): the waiters did not cancel,
            // so for them the exchange failed.
            Log.CrossApp.ExchangeFailed(_logger, key.Resource, key.AuthorizationServer, step, OAuthFailureReason.InvalidInput, null);
            throw new CrossApplicationAccessException(
                $"Cross-app access to '{OAuthEndpoint.Describe(key.Resource)}' failed: the IdTokenCallback threw {ex.GetType().Name}.",
                OAuthFailureReason.InvalidInput,
                innerException: ex);
        }
    }

    /// <summary>Adds <paramref name="accessToken"/> to the index of tokens that may be cached; prunes it when it outgrows the caches.</summary>
    private void RecordIssued(string accessToken, KeyEntry entry) =>
        _issued.Update(
            static (index, arg) => (index.Count >= 4 * arg.Capacity ? Prune(index) : index).SetItem(arg.Token, arg.Entry),
            (Token: accessToken, Entry: entry, Capacity: _settings.CacheCapacity));

    /// <summary>
    /// The index without the tokens that can never be served again: a token stays while its coordinator holds it or the
    /// acquisition that produced it (its generation) is still in flight. Reads only; free of side effects. Once a
    /// coordinator holds another value and that acquisition is no longer in flight, it can no longer publish (I3); an
    /// evicted or disposed coordinator never publishes again. Not "any acquisition in flight": the prune runs while the
    /// recording key's own acquisition is in flight, so a single key's old tokens would never go. After a prune at most
    /// two tokens per coordinator remain, so pruning at four times the capacity is amortized O(1).
    /// </summary>
    private static ImmutableDictionary<string, KeyEntry> Prune(ImmutableDictionary<string, KeyEntry> index)
    {
        var builder = index.ToBuilder();
        foreach (var (token, entry) in index)
        {
            if (!entry.Coordinator.MayHold(static (value, token) => string.Equals(value.AccessToken, token, StringComparison.Ordinal), token, entry.Generation))
            {
                builder.Remove(token);
            }
        }

        return builder.ToImmutable();
    }

    private CrossApplicationAccessException Untrusted(Uri authorizationServer)
    {
        var refusal = _trust.Refusal(authorizationServer);
        return new CrossApplicationAccessException(refusal.Message, refusal);
    }

    private async Task<(Uri Endpoint, ClientAuthentication Authentication)> ResolveIdpAsync(CancellationToken cancellationToken)
    {
        if (_settings.IdpTokenEndpoint is { } configured)
        {
            return (configured, _settings.IdpAuthentication!);
        }

        // Discovered from the IdP issuer: cached and coalesced like the authorization servers' metadata.
        var metadata = await _discovery.GetAsync(_settings.IdpIssuer!, cancellationToken).ConfigureAwait(false);
        var endpoint = metadata.TokenEndpoint
            ?? throw new CrossApplicationAccessException(
                $"The identity provider '{OAuthEndpoint.Describe(_settings.IdpIssuer!)}' publishes no token_endpoint in its metadata.",
                OAuthFailureReason.MalformedResponse,
                _settings.IdpIssuer);
        var authentication = _settings.IdpAuthentication ?? ClientAuthentication.Create(
            ClientAuthentication.Negotiate(null, metadata.TokenEndpointAuthMethodsSupported, _settings.IdpClientSecret is not null, metadata.Issuer),
            _settings.IdpClientId,
            _settings.IdpClientSecret,
            assertion: null);
        return (endpoint, authentication);
    }

    /// <summary>The cache key: one coordinator per (resource, authorization server).</summary>
    private readonly record struct TokenKey(Uri Resource, Uri AuthorizationServer);

    /// <summary>The last key served and its coordinator, or an issued token's key, coordinator and generation (immutable).</summary>
    private sealed class KeyEntry(Uri resource, Uri authorizationServer, AuthCoordinator<TokenContainer> coordinator, long generation = 0)
    {
        public Uri Resource { get; } = resource;

        public Uri AuthorizationServer { get; } = authorizationServer;

        public AuthCoordinator<TokenContainer> Coordinator { get; } = coordinator;

        /// <summary>In the issued-token index: the generation of the acquisition that produced the token.</summary>
        public long Generation { get; } = generation;
    }
}
