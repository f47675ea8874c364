using System.Collections.Immutable;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// An MCP OAuth 2.1 client for one protected resource (an MCP server URL): discovery (RFC 9728, RFC 8414/OpenID),
/// client identity (pre-registered, client ID metadata document, RFC 7591), authorization code with PKCE or client
/// credentials, refresh, scope step-up. Plug it into an <see cref="HttpClient"/> with <see cref="ClientOAuthHandler"/>.
/// </summary>
/// <remarks>
/// <para>
/// State: protected-resource and authorization-server metadata, the client registration, the tokens of each scope
/// set and the scope set in use are immutable snapshots on the lock-free state core
/// (<see cref="AuthCoordinator{T}"/>, <see cref="AuthCoordinatorMap{TKey, T}"/>, <see cref="AuthCell{TState}"/>).
/// See <c>spec/client-oauth.md</c>.
/// </para>
/// <para>
/// Concurrency: every member is safe to call from any thread. A valid cached token is read with a few volatile
/// reads and no allocation. Concurrent requests that need a new token (expired, or rejected with the same token)
/// share one exchange: one refresh, one client-credentials grant or one interactive authorization. Metadata and
/// registration are fetched once and shared. An interactive authorization never blocks requests whose token is
/// valid (including other scope sets); a caller's <see cref="CancellationToken"/> ends only its own wait, and the
/// shared work is cancelled only when every waiter left or the provider is disposed. No locks, no blocking waits.
/// </para>
/// </remarks>
public sealed class ClientOAuthProvider : IDisposable
{
    private const string RegistrationPurpose = "registration endpoint";

    private readonly Uri _serverUrl;
    private readonly IBackChannel _backChannel;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Settings _settings;
    private readonly TokenEndpointClient _tokenClient;
    private readonly AuthorizationServerDiscovery _asDiscovery;
    private readonly AuthCoordinatorMap<string, ServerMetadata> _metadata;
    private readonly AuthCoordinatorMap<string, ClientRegistration> _clients;
    private readonly AuthCoordinatorMap<string, TokenEntry> _tokens;
    private readonly AuthCoordinator<RestoredTokens> _restore;
    private readonly AuthCell<ProviderState> _state = new(ProviderState.Initial);
    private readonly IssuerTrust _trust;
    private readonly RefreshResourceCompatibility _refreshCompatibility = new();
    private readonly DPoPProofs? _dpop;

    // 0 = live, 1 = disposed: set once by Dispose, read by every entry point before it may start work.
    private int _disposed;

    /// <summary>Creates a provider for the protected resource at <paramref name="serverUrl"/>.</summary>
    /// <param name="serverUrl">The MCP server (protected resource) URL.</param>
    /// <param name="options">The configuration; validated and copied.</param>
    /// <param name="httpClient">The back channel for metadata, registration and token requests (not the resource requests, and not disposed by the provider). Redirects are never followed: a 3xx, or a redirect the handler followed, fails with <see cref="OAuthFailureReason.RedirectRefused"/>; prefer a handler with <c>AllowAutoRedirect = false</c>, and never one that buffers request bodies above an auto-redirecting handler (see <c>spec/security.md</c>, B1).</param>
    /// <param name="loggerFactory">Logs without secrets; none when omitted.</param>
    /// <param name="timeProvider">The clock and timers; <see cref="TimeProvider.System"/> when omitted.</param>
    /// <exception cref="ArgumentException">The options are unusable (the message says why).</exception>
    public ClientOAuthProvider(Uri serverUrl, ClientOAuthOptions options, HttpClient httpClient, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
        : this(serverUrl, options, httpClient ?? throw new ArgumentNullException(nameof(httpClient)), null, loggerFactory, timeProvider)
    {
    }

    /// <summary>For the Coyote suite: a provider whose back-channel requests all go to <paramref name="backChannel"/> (an in-memory fake of the endpoints).</summary>
    internal static ClientOAuthProvider OverBackChannel(Uri serverUrl, ClientOAuthOptions options, IBackChannel backChannel, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) =>
        new(serverUrl, options, null, backChannel ?? throw new ArgumentNullException(nameof(backChannel)), loggerFactory, timeProvider);

    private ClientOAuthProvider(Uri serverUrl, ClientOAuthOptions options, HttpClient? httpClient, IBackChannel? backChannel, ILoggerFactory? loggerFactory, TimeProvider? timeProvider)
    {
        ArgumentNullException.ThrowIfNull(serverUrl);
        ArgumentNullException.ThrowIfNull(options);
        if (!serverUrl.IsAbsoluteUri || (serverUrl.Scheme != Uri.UriSchemeHttps && serverUrl.Scheme != Uri.UriSchemeHttp))
        {
            throw new ArgumentException("The server URL must be an absolute http(s) URI.", nameof(serverUrl));
        }

        _settings = Settings.From(options);
        _trust = new IssuerTrust(options.TrustedAuthorizationServers, nameof(ClientOAuthOptions.TrustedAuthorizationServers), pinOnFirstUse: _settings.ClientId is not null);
        _serverUrl = serverUrl;
        _time = timeProvider ?? TimeProvider.System;
        _backChannel = backChannel ?? new BackChannel(httpClient!, _time, _settings.MaxResponseBytes, _settings.BackChannelTimeout);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ClientOAuthProvider>();
        _tokenClient = new TokenEndpointClient(_backChannel);
        _dpop = options.DPoPKeyStore is { } dpopKeys ? new DPoPProofs(dpopKeys, _time) : null;
        _asDiscovery = new AuthorizationServerDiscovery(_backChannel, "oauth.as-metadata", _settings.CacheCapacity);
        Action<Exception, bool> onFailed = (exception, background) => ClientOAuthLog.AcquisitionFailed(_logger, background, exception);

        var metadataOptions = new AuthCoordinatorOptions { Name = "oauth.metadata" };
        _metadata = new AuthCoordinatorMap<string, ServerMetadata>(
            hint => new AuthCoordinator<ServerMetadata>((_, ct) => DiscoverAsync(hint, ct), null, _time, metadataOptions) { OnAcquisitionFailed = onFailed },
            _settings.CacheCapacity);
        var clientOptions = new AuthCoordinatorOptions { Name = "oauth.client" };
        _clients = new AuthCoordinatorMap<string, ClientRegistration>(
            issuer => new AuthCoordinator<ClientRegistration>((context, ct) => ResolveClientAsync(issuer, context.Previous, ct), null, _time, clientOptions) { OnAcquisitionFailed = onFailed },
            _settings.CacheCapacity);
        var tokenOptions = _settings.TokenExpiry;
        _tokens = new AuthCoordinatorMap<string, TokenEntry>(
            key => new AuthCoordinator<TokenEntry>((context, ct) => AcquireTokensAsync(key, context, ct), static e => e.Tokens.ExpiresAt, _time, tokenOptions) { OnAcquisitionFailed = onFailed },
            _settings.CacheCapacity);
        _restore = new AuthCoordinator<RestoredTokens>((_, ct) => RestoreAsync(ct), null, _time, new AuthCoordinatorOptions { Name = "oauth.token-cache" });
    }

    /// <summary>The protected resource this provider authorizes for.</summary>
    public Uri ServerUrl => _serverUrl;

    /// <summary>The scopes of the token that requests use now (accumulated by step-up); empty before the first token.</summary>
    public IReadOnlyList<string> CurrentScopes => _state.Current.ActiveScopes;

    /// <summary>
    /// Returns the tokens requests would use, obtaining them if needed (discovery from the well-known locations,
    /// since there is no challenge to read). Interactive when the grant is the authorization code.
    /// </summary>
    /// <exception cref="OAuthException">The authorization failed (the message names the step, never a secret).</exception>
    public async Task<TokenContainer> GetTokensAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var entry = TryGetCachedEntry() ?? await GetEntryForRequestAsync(cancellationToken).ConfigureAwait(false)
            ?? await HandleChallengeAsync(null, HttpStatusCode.Unauthorized, [], cancellationToken).ConfigureAwait(false)
            ?? throw new OAuthException("No token could be obtained.", OAuthFailureReason.Unspecified, _serverUrl);
        return entry.Tokens;
    }

    /// <summary>Forgets every token (the registration and metadata are kept); exchanges in flight are not cached.</summary>
    public void InvalidateTokens() => _tokens.InvalidateAll();

    /// <summary>Cancels work in flight and releases the timers; every later call fails with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _tokens.Dispose();
        _clients.Dispose();
        _metadata.Dispose();
        _restore.Dispose();
        _asDiscovery.Dispose();
    }

    // ---------------------------------------------------------------- handler entry points

    /// <summary>Fast path: the usable token of the scope set in use, or null. Volatile reads only, no allocation.</summary>
    internal TokenEntry? TryGetCachedEntry() => _state.Current.Active?.Current.FreshValue; // null once a refresh is due: the slow path starts it

    /// <summary>
    /// Slow path before a request is sent: the token of the scope set in use (refreshed if it expired; restored from
    /// the token cache on first use), or null when no authorization happened yet (the request goes without a token
    /// and its challenge starts discovery).
    /// </summary>
    internal async ValueTask<TokenEntry?> GetEntryForRequestAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var state = _state.Current;
        if (state.Active is { IsEvicted: true } evicted && state.ActiveScopeSet is { } activeScopes)
        {
            // The map evicted the coordinator in use (it forwards to its key's current one, without a fast path):
            // put the current one in its place. CAS against the evicted reference, so a concurrent step-up wins.
            var current = _tokens.For(activeScopes.Key);
            _state.Update(static (s, arg) => ReferenceEquals(s.Active, arg.Evicted) ? s with { Active = arg.Current } : s, (Evicted: evicted, Current: current));
            state = _state.Current;
        }

        if (state.Active is null && _settings.TokenCache is not null)
        {
            var restored = await _restore.GetAsync(cancellationToken).ConfigureAwait(false);
            if (restored.Tokens is { } tokens)
            {
                var scopes = ScopeSet.Parse(tokens.Scope) ?? ScopeSet.From(_settings.Scopes) ?? ScopeSet.Empty;
                Activate(scopes, _tokens.For(scopes.Key));
                state = _state.Current;
            }
        }

        return state.Active is { } active ? await active.GetAsync(cancellationToken).ConfigureAwait(false) : null;
    }

    /// <summary>
    /// Handles a challenge to a request sent with <paramref name="rejected"/> (null: sent without a token). Returns the
    /// token to retry with, or null when the response should be passed through.
    /// </summary>
    internal async Task<TokenEntry?> HandleChallengeAsync(TokenEntry? rejected, HttpStatusCode status, IReadOnlyList<WwwAuthenticateChallenge> challenges, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var bearer = challenges.FirstOrDefault(static c => c.IsBearer);
        var hint = bearer?["resource_metadata"];
        if (hint is not null && !UriOrigin.IsSame(OAuthEndpoint.TryParseAbsolute(hint), _serverUrl))
        {
            // T6: resource metadata is read only from the resource's own origin; a hint elsewhere is ignored.
            ClientOAuthLog.ForeignMetadataHint(_logger, _serverUrl);
            hint = null;
        }

        var challengeScope = ScopeSet.Parse(bearer?["scope"]);
        challengeScope?.EnsureWithinLimits(_serverUrl);
        if (hint is not null)
        {
            _state.Update(static (s, h) => s.MetadataHint == h ? s : s with { MetadataHint = h }, hint);
        }

        var state = _state.Current;
        if (status == HttpStatusCode.Forbidden)
        {
            if (!string.Equals(bearer?["error"], "insufficient_scope", StringComparison.Ordinal) || challengeScope is null)
            {
                return null;
            }

            return await StepUpAsync(rejected, challengeScope, cancellationToken).ConfigureAwait(false);
        }

        if (rejected is not null)
        {
            var current = state.Active;
            if (challengeScope is not null && !rejected.Scopes.IsSupersetOf(challengeScope))
            {
                // The resource asks for scopes the rejected token does not have: a step-up through a 401.
                return await StepUpAsync(rejected, challengeScope, cancellationToken).ConfigureAwait(false);
            }

            if (current is not null)
            {
                if (current.Current.Value is { } fresh && !ReferenceEquals(fresh, rejected))
                {
                    // Stale 401: the token already changed; retry with the new one, no exchange.
                    return fresh;
                }

                if (!rejected.WasAccepted && !TryCountFreshRejection(rejected))
                {
                    // R1: the resource keeps rejecting tokens it never accepted; within the back-off the 401 is returned
                    // as is, with no exchange and no prompt.
                    return null;
                }

                // The resource rejected a token we sent: its metadata may have changed (for example it moved to another
                // authorization server), so the exchange that follows reads it again. Conditional, and before the
                // token is retired: whoever sees the token retired also sees the metadata it came with retired, and
                // a later 401 for the same token cannot retire metadata read after it.
                if (rejected.Metadata is { } used)
                {
                    foreach (var (_, metadataCoordinator) in _metadata.Entries)
                    {
                        metadataCoordinator.Invalidate(static (value, m) => ReferenceEquals(value, m), used);
                    }
                }

                // Retire the rejected token only if it is still the cached one; N concurrent 401s with the same
                // token retire it once and all join the one refresh that follows.
                current.Invalidate(static (value, r) => ReferenceEquals(value, r), rejected);
                return await current.GetAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        else if (state.Active is { } established)
        {
            // The request went without a token, but another request has authorized meanwhile.
            return await established.GetAsync(cancellationToken).ConfigureAwait(false);
        }

        // First authorization: discover, choose the scopes, and share one acquisition for that scope set.
        var metadata = await GetMetadataAsync(state.MetadataHint ?? hint, cancellationToken).ConfigureAwait(false);
        var scopes = challengeScope ?? ScopeSet.From(metadata.ResourceMetadata?.ScopesSupported) ?? ScopeSet.From(_settings.Scopes) ?? ScopeSet.Empty;
        var coordinator = _tokens.For(scopes.Key);
        var active = Activate(scopes, coordinator);
        return await active.GetAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<TokenEntry?> StepUpAsync(TokenEntry? rejected, ScopeSet required, CancellationToken cancellationToken)
    {
        var state = _state.Current;
        var have = rejected?.Scopes ?? state.ActiveScopeSet ?? ScopeSet.Empty;
        var wanted = have.Union(required).Union(state.ActiveScopeSet ?? ScopeSet.Empty);
        wanted.EnsureWithinLimits(_serverUrl);
        if (rejected is not null && rejected.Scopes.IsSupersetOf(wanted))
        {
            // The rejected token already had every scope asked for: another step-up cannot help, unless the token
            // in use changed meanwhile (a stale 403).
            return state.Active?.Current.Value is { } fresh && !ReferenceEquals(fresh, rejected) && fresh.Scopes.IsSupersetOf(required) ? fresh : null;
        }

        var coordinator = _tokens.For(wanted.Key);
        var entry = await coordinator.GetAsync(cancellationToken).ConfigureAwait(false);

        // Only a successful step-up changes the scope set in use, and only to a superset of it.
        _state.Update(
            static (s, arg) => s.ActiveScopeSet is { } current && !arg.Wanted.IsSupersetOf(current) ? s : s with { Active = arg.Coordinator, ActiveScopeSet = arg.Wanted },
            (Wanted: wanted, Coordinator: coordinator));
        ClientOAuthLog.SteppedUp(_logger, wanted.Key);
        return entry;
    }

    /// <summary>The resource accepted a token (any answer but 401): the count of fresh tokens it rejected starts over (R1).</summary>
    internal void OnTokenAccepted()
    {
        if (_state.Current.FreshRejections != 0)
        {
            _state.Update(static (s, _) => s.FreshRejections == 0 ? s : s with { FreshRejections = 0, LastFreshRejection = null }, 0);
        }
    }

    /// <summary>
    /// R1: counts a rejection of <paramref name="rejected"/>, a token the resource never accepted. The first such rejection
    /// may start an exchange at once; the n-th consecutive one only after 2^(n-2) seconds (at most
    /// <see cref="MaxRejectionBackoff"/>) since the previous one. Each token is counted once however many requests it
    /// failed. Returns whether this rejection may retire the token and start an exchange.
    /// </summary>
    private bool TryCountFreshRejection(TokenEntry rejected)
    {
        while (true)
        {
            var state = _state.Current;
            if (ReferenceEquals(state.LastFreshRejection, rejected))
            {
                // Already counted: concurrent 401s with this token join the exchange its first rejection started.
                return true;
            }

            var now = _time.GetUtcNow();
            if (state.FreshRejections > 0 && now < state.RetryFreshRejectionAt)
            {
                return false;
            }

            var count = state.FreshRejections + 1;
            var next = state with
            {
                FreshRejections = count,
                LastFreshRejection = rejected,
                RetryFreshRejectionAt = now + RejectionBackoff(count + 1),
            };

            // CAS against the state read above: a concurrent rejection of another token counts first and this one re-reads.
            if (_state.TryReplace(state, next))
            {
                if (count > 1)
                {
                    ClientOAuthLog.FreshTokenRejected(_logger, count, RejectionBackoff(count + 1));
                }

                return true;
            }
        }
    }

    /// <summary>The longest back-off between exchanges when the resource rejects every fresh token (R1).</summary>
    internal static readonly TimeSpan MaxRejectionBackoff = TimeSpan.FromMinutes(5);

    /// <summary>How long the n-th consecutive fresh-token rejection waits after the previous one: 0 for n = 1, then 1 s, 2 s, 4 s, … up to 5 minutes.</summary>
    internal static TimeSpan RejectionBackoff(int n) =>
        n <= 1 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(Math.Pow(2, Math.Min(n - 2, 20)), MaxRejectionBackoff.TotalSeconds));

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private AuthCoordinator<TokenEntry> Activate(ScopeSet scopes, AuthCoordinator<TokenEntry> coordinator)
    {
        var (_, after) = _state.Update(
            static (s, arg) => s.Active is not null ? s : s with { Active = arg.Coordinator, ActiveScopeSet = arg.Scopes },
            (Scopes: scopes, Coordinator: coordinator));
        return after.Active!;
    }

    // ---------------------------------------------------------------- token acquisition (one per scope set and generation)

    private async Task<TokenEntry> AcquireTokensAsync(string key, AcquisitionContext<TokenEntry> context, CancellationToken cancellationToken)
    {
        var scopes = ScopeSet.Parse(key) ?? ScopeSet.Empty;
        var previous = context.Previous?.Tokens;
        var previousIssuer = context.Previous?.Issuer;
        if (previous is null && _settings.TokenCache is not null)
        {
            var restored = (await _restore.GetAsync(cancellationToken).ConfigureAwait(false)).Tokens;
            if (restored is not null && (ScopeSet.Parse(restored.Scope) ?? ScopeSet.From(_settings.Scopes) ?? ScopeSet.Empty).Key == key)
            {
                if (restored.ExpiresAt is not { } expires || expires - _time.GetUtcNow() > TimeSpan.FromSeconds(30))
                {
                    return new TokenEntry(restored, scopes, restored.Issuer, null);
                }

                previous = restored;
                previousIssuer = restored.Issuer;
            }
        }

        var metadata = await GetMetadataAsync(_state.Current.MetadataHint, cancellationToken).ConfigureAwait(false);

        // T3: nothing (registration, client credentials, code, verifier, refresh token) goes to an untrusted issuer.
        _trust.Demand(metadata.Issuer, metadata.ResourceMetadata?.Source);
        var client = await GetClientAsync(metadata, cancellationToken).ConfigureAwait(false);
        TokenContainer? tokens = null;
        if (previous?.RefreshToken is { } refreshToken && MayRefreshWith(previousIssuer, metadata))
        {
            try
            {
                tokens = await RefreshAsync(metadata, client, refreshToken, cancellationToken).ConfigureAwait(false);
                if (tokens.RefreshToken is null)
                {
                    tokens = tokens with { RefreshToken = refreshToken };
                }
            }
            catch (OAuthException ex) when (ex.Error == "invalid_grant")
            {
                // The refresh token is no longer valid (expired, revoked, or rotated away): drop it and authorize.
                ClientOAuthLog.RefreshRejected(_logger, metadata.TokenEndpoint);
            }
        }

        tokens ??= _settings.GrantType == OAuthGrantType.ClientCredentials
            ? await ClientCredentialsAsync(metadata, client, scopes, cancellationToken).ConfigureAwait(false)
            : await AuthorizationCodeAsync(metadata, client, scopes, cancellationToken).ConfigureAwait(false);

        // T4: the tokens carry their issuer (through ITokenCache too), and the first issuer that produced a token is pinned.
        tokens = tokens with { Issuer = metadata.IssuerText };
        if (!_trust.Pin(metadata.Issuer))
        {
            _trust.Demand(metadata.Issuer, metadata.ResourceMetadata?.Source);
        }

        if (_settings.TokenCache is { } cache)
        {
            try
            {
                await cache.StoreTokensAsync(tokens, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                ClientOAuthLog.CacheStoreFailed(_logger, ex.GetType());
            }
        }

        return new TokenEntry(tokens, scopes, metadata.IssuerText, metadata);
    }

    /// <summary>
    /// T4: a refresh token goes only to the issuer that issued it; one restored without an issuer (an older cache) only to
    /// an issuer that is configured as trusted or already pinned.
    /// </summary>
    private bool MayRefreshWith(string? issuer, ServerMetadata metadata) =>
        issuer is not null
            ? string.Equals(issuer, metadata.IssuerText, StringComparison.Ordinal)
            : _trust.IsEstablished(metadata.Issuer);

    private async Task<RestoredTokens> RestoreAsync(CancellationToken cancellationToken)
    {
        try
        {
            var restored = await _settings.TokenCache!.GetTokensAsync(cancellationToken).ConfigureAwait(false);
            if (restored?.Issuer is { } issuer)
            {
                // T4: tokens of an issuer this provider may not use are ignored; otherwise that issuer is the pinned one.
                if (OAuthEndpoint.TryParseAbsolute(issuer) is not { } issuerUri || !_trust.Pin(issuerUri))
                {
                    ClientOAuthLog.RestoredTokensIgnored(_logger, OAuthEndpoint.TryParseAbsolute(issuer) ?? _serverUrl);
                    return new RestoredTokens(null);
                }
            }

            return new RestoredTokens(restored);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ClientOAuthLog.CacheReadFailed(_logger, ex.GetType());
            return new RestoredTokens(null);
        }
    }

    private async Task<TokenContainer> RefreshAsync(ServerMetadata metadata, ClientRegistration client, string refreshToken, CancellationToken cancellationToken)
    {
        var parameters = new List<KeyValuePair<string, string>>
        {
            new("grant_type", OAuthConstants.GrantTypeRefreshToken),
            new("refresh_token", refreshToken),
        };
        var withResource = metadata.Resource is not null && !_refreshCompatibility.OmitsResource(metadata.IssuerText);
        if (withResource)
        {
            AddResource(parameters, metadata);
        }

        try
        {
            return await RequestTokensAsync(metadata, client, parameters, cancellationToken).ConfigureAwait(false);
        }
        catch (OAuthException ex) when (withResource && RefreshResourceCompatibility.IsResourceRejectedOnRefresh(ex))
        {
            // Entra (AADSTS9010010) refuses resource on refresh for some app registrations: once more without it.
            ClientOAuthLog.RefreshWithoutResource(_logger, metadata.TokenEndpoint);
            parameters.RemoveAll(static p => p.Key == "resource");
            var tokens = await RequestTokensAsync(metadata, client, parameters, cancellationToken).ConfigureAwait(false);
            _refreshCompatibility.Remember(metadata.IssuerText);
            return tokens;
        }
    }

    private async Task<TokenContainer> ClientCredentialsAsync(ServerMetadata metadata, ClientRegistration client, ScopeSet scopes, CancellationToken cancellationToken)
    {
        var parameters = new List<KeyValuePair<string, string>> { new("grant_type", OAuthConstants.GrantTypeClientCredentials) };
        if (!scopes.IsEmpty)
        {
            parameters.Add(new("scope", scopes.Key));
        }

        AddResource(parameters, metadata);
        return await RequestTokensAsync(metadata, client, parameters, cancellationToken).ConfigureAwait(false);
    }

    private async Task<TokenContainer> AuthorizationCodeAsync(ServerMetadata metadata, ClientRegistration client, ScopeSet scopes, CancellationToken cancellationToken)
    {
        var authorizationEndpoint = metadata.AuthorizationEndpoint;
        OAuthEndpoint.Validate(authorizationEndpoint, "authorization endpoint");
        var redirectUri = _settings.RedirectUri!;
        var verifier = Pkce.CreateVerifier();
        var state = Pkce.CreateState();
        var requested = WithOfflineAccess(scopes, metadata);

        var query = new List<KeyValuePair<string, string>>
        {
            new("response_type", "code"),
            new("client_id", client.ClientId),
            new("redirect_uri", redirectUri.OriginalString),
            new("code_challenge", Pkce.ChallengeS256(verifier)),
            new("code_challenge_method", "S256"),
            new("state", state),
        };
        if (!requested.IsEmpty)
        {
            query.Add(new("scope", requested.Key));
        }

        AddResource(query, metadata);
        foreach (var (name, value) in _settings.AdditionalAuthorizationParameters)
        {
            if (!query.Exists(p => string.Equals(p.Key, name, StringComparison.Ordinal)))
            {
                query.Add(new(name, value));
            }
        }

        var authorizationUri = OAuthQuery.Append(authorizationEndpoint, query);
        ClientOAuthLog.WaitingForUser(_logger, authorizationEndpoint);
        var issRequired = metadata.AuthorizationServer?.AuthorizationResponseIssParameterSupported == true;
        var result = await _settings.AuthorizationCallbackHandler!(
            new AuthorizationCallbackContext { AuthorizationUri = authorizationUri, RedirectUri = redirectUri, State = state, Issuer = metadata.IssuerText, IssuerRequired = issRequired },
            cancellationToken).ConfigureAwait(false);

        if (result is null)
        {
            throw new OAuthException("The authorization was not completed: no authorization code was returned.", OAuthFailureReason.InvalidInput, authorizationEndpoint, error: "access_denied");
        }

        if (!Pkce.FixedTimeEquals(result.State, state))
        {
            throw new OAuthException("The authorization response has a 'state' that does not match the request (possible CSRF); it was rejected.", OAuthFailureReason.InvalidInput, authorizationEndpoint);
        }

        if (result.Iss is not null || issRequired)
        {
            // RFC 9207: the iss parameter must name the issuer the request went to (mix-up attack defence), error responses included.
            // Compared by exact string equality with the metadata's issuer, without normalization.
            if (!string.Equals(result.Iss, metadata.IssuerText, StringComparison.Ordinal))
            {
                throw new OAuthException("The authorization response's 'iss' does not name the authorization server the request was sent to (RFC 9207); it was rejected.", OAuthFailureReason.IssuerMismatch, authorizationEndpoint);
            }
        }

        if (OAuthHttp.Sanitize(result.Error) is { } authorizationError)
        {
            // RFC 6749 §4.1.2.1: the authorization server (or the user) refused; state and iss are already verified.
            throw OAuthHttp.ErrorResponse(authorizationError, OAuthHttp.Sanitize(result.ErrorDescription), result.ErrorUri, null, authorizationEndpoint, "authorization endpoint");
        }

        if (string.IsNullOrEmpty(result.Code))
        {
            throw new OAuthException("The authorization was not completed: no authorization code was returned.", OAuthFailureReason.InvalidInput, authorizationEndpoint, error: "access_denied");
        }

        // RFC 8252 §7.3: a loopback listener may have used another port than the configured one; the token request must
        // name the redirect URI the authorization request named.
        redirectUri = LoopbackRedirect.ResolveReported(redirectUri, result.RedirectUri, authorizationEndpoint);

        var parameters = new List<KeyValuePair<string, string>>
        {
            new("grant_type", OAuthConstants.GrantTypeAuthorizationCode),
            new("code", result.Code),
            new("redirect_uri", redirectUri.OriginalString),
            new("code_verifier", verifier),
        };
        AddResource(parameters, metadata);
        return await RequestTokensAsync(metadata, client, parameters, cancellationToken).ConfigureAwait(false);
    }

    private async Task<TokenContainer> RequestTokensAsync(ServerMetadata metadata, ClientRegistration client, List<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var request = new TokenRequest
        {
            Endpoint = metadata.TokenEndpoint,
            Parameters = parameters,
            Authentication = CreateAuthentication(client),
            Issuer = metadata.Issuer,
            RequiredTokenType = OAuthConstants.Bearer, // the handler sends it as a bearer token (RFC 6750), or as DPoP (RFC 9449)
            DPoP = _dpop,
        };
        try
        {
            var response = await _tokenClient.RequestAsync(request, cancellationToken).ConfigureAwait(false);
            return response.Tokens;
        }
        catch (OAuthException ex) when (ex.Error == "invalid_client" && _settings.ClientId is null)
        {
            // A registered client the server no longer knows: register again next time (the error still surfaces).
            // Conditional invalidation retires the registration, so the next resolution sees it as rejected.
            _clients.For(metadata.IssuerText).Invalidate(static (registration, rejected) => registration.ClientId == rejected, client.ClientId);
            throw;
        }
    }

    private ClientAuthentication CreateAuthentication(ClientRegistration client) =>
        client.TokenEndpointAuthMethod == OAuthConstants.PrivateKeyJwt
            ? new PrivateKeyJwtAuthentication(
                client.ClientId,
                _settings.SigningCredentials ?? throw new OAuthException("private_key_jwt needs ClientAssertionSigningCredentials, but none are configured.", OAuthFailureReason.ClientAuthentication),
                _settings.ClientAssertionLifetime,
                _settings.ClientAssertionJwtType)
            : ClientAuthentication.Create(client.TokenEndpointAuthMethod, client.ClientId, client.ClientSecret);

    private static void AddResource(List<KeyValuePair<string, string>> parameters, ServerMetadata metadata)
    {
        if (metadata.Resource is { } resource)
        {
            parameters.Add(new("resource", resource.OriginalString));
        }
    }

    private static ScopeSet WithOfflineAccess(ScopeSet scopes, ServerMetadata metadata)
    {
        const string OfflineAccess = "offline_access";
        var supported = metadata.AuthorizationServer?.ScopesSupported;
        if (supported is null)
        {
            return scopes;
        }

        if (supported.Contains(OfflineAccess))
        {
            return scopes.Union(ScopeSet.Parse(OfflineAccess)!);
        }

        return scopes.Without(OfflineAccess);
    }

    // ---------------------------------------------------------------- client identity

    private Task<ClientRegistration> GetClientAsync(ServerMetadata metadata, CancellationToken cancellationToken) =>
        _clients.For(metadata.IssuerText).GetAsync(cancellationToken);

    private async Task<ClientRegistration> ResolveClientAsync(string issuer, ClientRegistration? rejected, CancellationToken cancellationToken)
    {
        var metadata = await GetMetadataAsync(_state.Current.MetadataHint, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(metadata.IssuerText, issuer, StringComparison.Ordinal))
        {
            // The metadata changed between the request for this issuer's client and now: resolve nothing for it.
            throw new OAuthException($"The authorization server changed while its client was being resolved; try again.", OAuthFailureReason.UntrustedAuthorizationServer, metadata.Issuer);
        }

        _trust.Demand(metadata.Issuer, metadata.ResourceMetadata?.Source);
        var server = metadata.AuthorizationServer;
        var supported = server?.TokenEndpointAuthMethodsSupported;
        if (_settings.ClientId is { } clientId)
        {
            var method = _settings.TokenEndpointAuthMethod
                ?? (_settings.SigningCredentials is not null && (supported is null || supported.Contains(OAuthConstants.PrivateKeyJwt))
                    ? OAuthConstants.PrivateKeyJwt
                    : ClientAuthentication.Negotiate(null, supported, _settings.ClientSecret is not null, metadata.Issuer));
            return new ClientRegistration(clientId, _settings.ClientSecret, method);
        }

        if (_settings.TokenCache is IClientRegistrationCache registrations)
        {
            try
            {
                // Not after the server rejected a registration (rejected is the one retired by invalid_client).
                if (rejected is null && await registrations.GetClientRegistrationAsync(issuer, cancellationToken).ConfigureAwait(false) is { } restored)
                {
                    return restored;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                ClientOAuthLog.CacheReadFailed(_logger, ex.GetType());
            }
        }

        if (_settings.ClientMetadataDocumentUri is { } document && server?.ClientIdMetadataDocumentSupported == true)
        {
            var method = _settings.TokenEndpointAuthMethod ?? (_settings.SigningCredentials is not null ? OAuthConstants.PrivateKeyJwt : OAuthConstants.None);
            return new ClientRegistration(document.OriginalString, null, method);
        }

        if (metadata.RegistrationEndpoint is { } registrationEndpoint)
        {
            return await RegisterAsync(metadata, registrationEndpoint, cancellationToken).ConfigureAwait(false);
        }

        throw new OAuthException(
            $"No client identity for the authorization server '{issuer}': configure ClientId, or use a server that supports client ID metadata documents (with ClientMetadataDocumentUri) or dynamic client registration.",
            OAuthFailureReason.ClientAuthentication,
            metadata.Issuer);
    }

    private async Task<ClientRegistration> RegisterAsync(ServerMetadata metadata, Uri endpoint, CancellationToken cancellationToken)
    {
        OAuthEndpoint.Validate(endpoint, RegistrationPurpose);
        var server = metadata.AuthorizationServer;
        var supported = server?.TokenEndpointAuthMethodsSupported;
        var method = _settings.TokenEndpointAuthMethod
            ?? (_settings.SigningCredentials is not null ? OAuthConstants.PrivateKeyJwt
                : supported is null || supported.Contains(OAuthConstants.None) ? OAuthConstants.None
                : supported.Contains(OAuthConstants.ClientSecretBasic) ? OAuthConstants.ClientSecretBasic
                : supported.Contains(OAuthConstants.ClientSecretPost) ? OAuthConstants.ClientSecretPost
                : OAuthConstants.None);

        var grantTypes = new List<string>();
        if (_settings.GrantType == OAuthGrantType.ClientCredentials)
        {
            grantTypes.Add(OAuthConstants.GrantTypeClientCredentials);
        }
        else
        {
            grantTypes.Add(OAuthConstants.GrantTypeAuthorizationCode);
            if (server?.ScopesSupported?.Contains("offline_access") == true || server?.GrantTypesSupported?.Contains(OAuthConstants.GrantTypeRefreshToken) == true)
            {
                grantTypes.Add(OAuthConstants.GrantTypeRefreshToken);
            }
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (_settings.GrantType == OAuthGrantType.AuthorizationCode)
            {
                writer.WriteStartArray("redirect_uris");
                writer.WriteStringValue(_settings.RedirectUri!.OriginalString);
                writer.WriteEndArray();
                writer.WriteStartArray("response_types");
                writer.WriteStringValue("code");
                writer.WriteEndArray();
            }

            writer.WriteStartArray("grant_types");
            foreach (var grant in grantTypes)
            {
                writer.WriteStringValue(grant);
            }

            writer.WriteEndArray();
            writer.WriteString("token_endpoint_auth_method", method);
            writer.WriteString("application_type", IsNativeRedirect(_settings.RedirectUri) ? "native" : "web");
            writer.WriteString("client_name", _settings.Registration?.ClientName ?? "LockFree.Auth MCP client");
            if (_settings.Registration?.ClientUri is { } clientUri)
            {
                writer.WriteString("client_uri", clientUri.OriginalString);
            }

            writer.WriteEndObject();
        }

        using var request = OAuthHttp.CreateRequest(HttpMethod.Post, endpoint);
        request.Content = new ByteArrayContent(buffer.ToArray());
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (_settings.Registration?.InitialAccessToken is { } initial)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", initial);
        }

        var response = await _backChannel.SendAsync(request, RegistrationPurpose, cancellationToken).ConfigureAwait(false);
        var body = response.Body;
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Created))
        {
            throw OAuthHttp.ErrorFromResponse(response.StatusCode, body, endpoint, RegistrationPurpose);
        }

        var registration = ParseRegistration(body, endpoint, method);
        ClientOAuthLog.Registered(_logger, registration.ClientId, endpoint, registration.TokenEndpointAuthMethod);
        if (_settings.TokenCache is IClientRegistrationCache registrations)
        {
            try
            {
                await registrations.StoreClientRegistrationAsync(metadata.IssuerText, registration, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                ClientOAuthLog.CacheStoreFailed(_logger, ex.GetType());
            }
        }

        if (_settings.Registration?.ResponseDelegate is { } callback)
        {
            await callback(registration, cancellationToken).ConfigureAwait(false);
        }

        return registration;
    }

    /// <summary>Parses an RFC 7591 registration response. Exposed for tests and fuzzing.</summary>
    internal static ClientRegistration ParseRegistration(byte[] body, Uri endpoint, string requestedMethod)
    {
        using var document = OAuthHttp.ParseObject(body, endpoint, RegistrationPurpose);
        var json = new OAuthJson(document.RootElement, endpoint, RegistrationPurpose);
        var clientId = json.GetRequiredString("client_id");
        var secret = json.GetString("client_secret");
        var method = json.GetString("token_endpoint_auth_method") ?? requestedMethod;
        if (string.IsNullOrEmpty(secret) && method is OAuthConstants.ClientSecretBasic or OAuthConstants.ClientSecretPost)
        {
            throw new OAuthException(
                $"The {RegistrationPurpose} '{OAuthEndpoint.Describe(endpoint)}' registered '{OAuthHttp.Sanitize(method)}' but returned no 'client_secret'.",
                OAuthFailureReason.MalformedResponse,
                endpoint);
        }

        return new ClientRegistration(clientId, string.IsNullOrEmpty(secret) ? null : secret, method);
    }

    /// <summary>SEP-837: a loopback or custom-scheme redirect (or none) is a native application.</summary>
    private static bool IsNativeRedirect(Uri? redirect) =>
        redirect is null || (redirect.Scheme != Uri.UriSchemeHttps && redirect.Scheme != Uri.UriSchemeHttp) || OAuthEndpoint.IsLoopbackHost(redirect);

    // ---------------------------------------------------------------- discovery

    private Task<ServerMetadata> GetMetadataAsync(string? hint, CancellationToken cancellationToken) =>
        _metadata.For(hint ?? string.Empty).GetAsync(cancellationToken);

    private async Task<ServerMetadata> DiscoverAsync(string hint, CancellationToken cancellationToken)
    {
        var prm = await DiscoverResourceMetadataAsync(hint, cancellationToken).ConfigureAwait(false);
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

        var server = prm is null
            ? await DiscoverLegacyAsync(issuer, cancellationToken).ConfigureAwait(false)
            : await _asDiscovery.GetAsync(issuer, cancellationToken).ConfigureAwait(false);

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

    /// <summary>
    /// 2025-03-26 back-compat: the server's origin is the authorization base URL, so there is no issuer identifier to
    /// validate the metadata against (servers of that revision name e.g. <c>origin/oauth</c>); no metadata at all
    /// means the default <c>/authorize</c>, <c>/token</c> and <c>/register</c> endpoints (null).
    /// </summary>
    private async Task<AuthorizationServerMetadata?> DiscoverLegacyAsync(Uri origin, CancellationToken cancellationToken)
    {
        const string Purpose = "metadata endpoint";
        foreach (var location in AuthorizationServerDiscovery.GetDiscoveryUris(origin))
        {
            var response = await _backChannel.GetAsync(location, Purpose, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                continue;
            }

            var body = response.Body;
            string? issuerText;
            try
            {
                using var document = OAuthHttp.ParseObject(body, location, Purpose, HttpStatusCode.OK);
                issuerText = new OAuthJson(document.RootElement, location, Purpose).GetString("issuer");
            }
            catch (OAuthException)
            {
                continue; // not JSON (an HTML page, say): not metadata
            }

            var named = OAuthEndpoint.TryParseAbsolute(issuerText) ?? origin;
            if (!UriOrigin.IsSame(named, origin))
            {
                // T7: the MCP server's own metadata may only describe an issuer on its own origin; a self-named issuer
                // elsewhere (another host's registration, refresh tokens or iss) is never believed.
                throw new OAuthException(
                    $"The metadata at '{OAuthEndpoint.Describe(location)}' names the issuer '{OAuthEndpoint.Describe(named)}', which is not on the MCP server's origin '{OAuthEndpoint.Describe(origin)}'; it was rejected.",
                    OAuthFailureReason.IssuerMismatch,
                    location,
                    HttpStatusCode.OK);
            }

            return AuthorizationServerMetadata.Parse(body, named, location);
        }

        ClientOAuthLog.DefaultEndpoints(_logger, origin);
        return null;
    }

    private Task<ProtectedResourceMetadata?> DiscoverResourceMetadataAsync(string hint, CancellationToken cancellationToken) =>
        ProtectedResourceDiscovery.DiscoverAsync(
            _backChannel,
            _serverUrl,
            hint.Length > 0 ? OAuthEndpoint.TryParseAbsolute(hint) : null,
            (location, status) => ClientOAuthLog.NoResourceMetadata(_logger, location, status),
            cancellationToken);

    // ---------------------------------------------------------------- immutable state

    /// <summary>The provider's own snapshot: which scope set's token requests use, and the latest metadata hint.</summary>
    private sealed record ProviderState(AuthCoordinator<TokenEntry>? Active, ScopeSet? ActiveScopeSet, string? MetadataHint)
    {
        internal static ProviderState Initial { get; } = new(null, null, null);

        /// <summary>R1: how many tokens in a row the resource rejected before ever accepting them.</summary>
        internal int FreshRejections { get; init; }

        /// <summary>R1: the last token counted in <see cref="FreshRejections"/> (reference identity).</summary>
        internal TokenEntry? LastFreshRejection { get; init; }

        /// <summary>R1: before this instant a rejection of another never-accepted token starts no exchange.</summary>
        internal DateTimeOffset RetryFreshRejectionAt { get; init; }

        internal IReadOnlyList<string> ActiveScopes => ActiveScopeSet?.Scopes ?? [];
    }

    private sealed record RestoredTokens(TokenContainer? Tokens);

    private sealed record Settings(
        OAuthGrantType GrantType,
        Uri? RedirectUri,
        string? ClientId,
        string? ClientSecret,
        string? TokenEndpointAuthMethod,
        Uri? ClientMetadataDocumentUri,
        IReadOnlyList<string>? Scopes,
        Func<AuthorizationCallbackContext, CancellationToken, Task<AuthorizationResult?>>? AuthorizationCallbackHandler,
        Func<IReadOnlyList<Uri>, Uri?>? AuthServerSelector,
        DynamicClientRegistrationOptions? Registration,
        IReadOnlyList<KeyValuePair<string, string>> AdditionalAuthorizationParameters,
        ITokenCache? TokenCache,
        Microsoft.IdentityModel.Tokens.SigningCredentials? SigningCredentials,
        TimeSpan ClientAssertionLifetime,
        string ClientAssertionJwtType,
        int MaxStepUpAttempts,
        AuthCoordinatorOptions TokenExpiry,
        int CacheCapacity,
        int MaxResponseBytes,
        TimeSpan BackChannelTimeout)
    {
        /// <summary>Describes the settings without the client secret or the signing key.</summary>
        public override string ToString() =>
            $"Settings {{ GrantType = {GrantType}, ClientId = {ClientId ?? "(none)"}, ClientSecret = {(ClientSecret is null ? "(none)" : "[redacted]")}, TokenEndpointAuthMethod = {TokenEndpointAuthMethod ?? "(negotiated)"} }}";

        internal static Settings From(ClientOAuthOptions o)
        {
            if (o.GrantType == OAuthGrantType.AuthorizationCode)
            {
                if (o.RedirectUri is null || !o.RedirectUri.IsAbsoluteUri)
                {
                    throw new ArgumentException("The authorization code grant needs an absolute RedirectUri.", nameof(o));
                }

                if (o.AuthorizationCallbackHandler is null)
                {
                    throw new ArgumentException("The authorization code grant needs an AuthorizationCallbackHandler.", nameof(o));
                }
            }
            else if (o.GrantType == OAuthGrantType.ClientCredentials)
            {
                if (string.IsNullOrEmpty(o.ClientId) && o.DynamicClientRegistration is null)
                {
                    throw new ArgumentException("The client credentials grant needs a ClientId (or DynamicClientRegistration).", nameof(o));
                }

                if (!string.IsNullOrEmpty(o.ClientId) && o.ClientSecret is null && o.ClientAssertionSigningCredentials is null)
                {
                    throw new ArgumentException("The client credentials grant needs a ClientSecret or ClientAssertionSigningCredentials.", nameof(o));
                }
            }
            else
            {
                throw new ArgumentException($"Unknown grant type {o.GrantType}.", nameof(o));
            }

            if (o.TokenEndpointAuthMethod is { } method
                && method is not (OAuthConstants.ClientSecretBasic or OAuthConstants.ClientSecretPost or OAuthConstants.None or OAuthConstants.PrivateKeyJwt))
            {
                throw new ArgumentException("TokenEndpointAuthMethod must be client_secret_basic, client_secret_post, none or private_key_jwt.", nameof(o));
            }

            if (o.TokenEndpointAuthMethod is OAuthConstants.PrivateKeyJwt && o.ClientAssertionSigningCredentials is null)
            {
                throw new ArgumentException("private_key_jwt needs ClientAssertionSigningCredentials.", nameof(o));
            }

            if (o.TokenEndpointAuthMethod is OAuthConstants.ClientSecretBasic or OAuthConstants.ClientSecretPost && o.ClientId is not null && string.IsNullOrEmpty(o.ClientSecret))
            {
                throw new ArgumentException($"{o.TokenEndpointAuthMethod} needs a ClientSecret.", nameof(o));
            }

            if (o.ClientMetadataDocumentUri is { } cimd && (!cimd.IsAbsoluteUri || cimd.Scheme != Uri.UriSchemeHttps || cimd.AbsolutePath.Length <= 1))
            {
                throw new ArgumentException("ClientMetadataDocumentUri must be an https URL with a path.", nameof(o));
            }

            if (o.ClientAssertionLifetime <= TimeSpan.Zero)
            {
                throw new ArgumentException("ClientAssertionLifetime must be positive.", nameof(o));
            }

            if (string.IsNullOrEmpty(o.ClientAssertionJwtType) || !o.ClientAssertionJwtType.All(static c => c is > ' ' and <= '~' and not '"' and not '\\'))
            {
                throw new ArgumentException("ClientAssertionJwtType must be a non-empty media type such as 'client-authentication+jwt' or 'JWT'.", nameof(o));
            }

            if (o.MaxStepUpAttempts < 0)
            {
                throw new ArgumentException("MaxStepUpAttempts must not be negative.", nameof(o));
            }

            if (o.MaxResponseBytes <= 0)
            {
                throw new ArgumentException("MaxResponseBytes must be positive.", nameof(o));
            }

            BackChannel.ValidateTimeout(o.BackChannelTimeout, nameof(o.BackChannelTimeout));
            OptionChecks.RequirePositive(o.CacheCapacity, nameof(o.CacheCapacity));

            var expiry = o.TokenExpiry ?? new AuthCoordinatorOptions();
            expiry.Validate();
            var tokenExpiry = expiry.Clone(o.TokenExpiry?.Name is { } name && name != "coordinator" ? name : "oauth.tokens");
            return new Settings(
                o.GrantType,
                o.RedirectUri,
                string.IsNullOrEmpty(o.ClientId) ? null : o.ClientId,
                o.ClientSecret,
                o.TokenEndpointAuthMethod,
                o.ClientMetadataDocumentUri,
                o.Scopes?.ToArray(),
                o.AuthorizationCallbackHandler,
                o.AuthServerSelector,
                o.DynamicClientRegistration,
                (o.AdditionalAuthorizationParameters ?? new Dictionary<string, string>()).ToArray(),
                o.TokenCache,
                o.ClientAssertionSigningCredentials,
                o.ClientAssertionLifetime,
                o.ClientAssertionJwtType,
                o.MaxStepUpAttempts,
                tokenExpiry,
                o.CacheCapacity,
                o.MaxResponseBytes,
                o.BackChannelTimeout);
        }
    }

    internal int MaxStepUpAttempts => _settings.MaxStepUpAttempts;

    /// <summary>DPoP proofs and nonces, when <see cref="ClientOAuthOptions.DPoPKeyStore"/> is set.</summary>
    internal DPoPProofs? DPoP => _dpop;

    /// <summary>The coordinator of the scope set in use (tests and statistics).</summary>
    internal AuthCoordinator<TokenEntry>? ActiveCoordinator => _state.Current.Active;
}

/// <summary>What discovery produced for one protected resource (immutable, shared).</summary>
internal sealed record ServerMetadata(
    ProtectedResourceMetadata? ResourceMetadata,
    Uri? Resource,
    Uri Issuer,
    AuthorizationServerMetadata? AuthorizationServer,
    Uri AuthorizationEndpoint,
    Uri TokenEndpoint,
    Uri? RegistrationEndpoint)
{
    /// <summary>The issuer exactly as the metadata spelled it (RFC 9207 compares strings, without normalization).</summary>
    internal string IssuerText => AuthorizationServer?.Issuer.OriginalString ?? Issuer.OriginalString;
}

/// <summary>
/// One token exchange's result as the handler uses it: the tokens, the scope set they were obtained for and the
/// ready-made <c>Authorization</c> header value (so the fast path allocates nothing). Reference identity = "the
/// token one exchange produced".
/// </summary>
internal sealed class TokenEntry
{
    internal TokenEntry(TokenContainer tokens, ScopeSet scopes, string? issuer, ServerMetadata? metadata)
    {
        Tokens = tokens;
        Scopes = scopes;
        Issuer = issuer;
        Metadata = metadata;
        IsDPoPBound = string.Equals(tokens.TokenType, DPoPProofs.Scheme, StringComparison.OrdinalIgnoreCase);
        Header = IsDPoPBound ? DPoPProofs.Authorization(tokens.AccessToken) : new AuthenticationHeaderValue(OAuthConstants.Bearer, tokens.AccessToken);
    }

    /// <summary>Whether the token is DPoP-bound (<c>token_type</c> DPoP): every request with it needs a proof.</summary>
    internal bool IsDPoPBound { get; }

    internal TokenContainer Tokens { get; }

    internal ScopeSet Scopes { get; }

    /// <summary>The issuer that issued the tokens (null when restored from a cache): a refresh token goes only there.</summary>
    internal string? Issuer { get; }

    /// <summary>The discovery result the tokens were obtained with (null when restored from a cache).</summary>
    internal ServerMetadata? Metadata { get; }

    internal AuthenticationHeaderValue Header { get; }

    // R1: 0 until the resource answered a request carrying this token with anything but 401, then 1. Written with
    // Volatile.Write (a benign race: several requests may set it), read with Volatile.Read on every response.
    private int _accepted;

    /// <summary>Whether the resource ever accepted this token (answered anything but 401 to a request carrying it).</summary>
    internal bool WasAccepted => Volatile.Read(ref _accepted) != 0;

    internal void MarkAccepted() => Volatile.Write(ref _accepted, 1);

    public override string ToString() => Tokens.ToString();
}

/// <summary>An immutable, normalized (distinct, ordinal-sorted) set of scopes; <see cref="Key"/> is its space-separated form.</summary>
internal sealed class ScopeSet
{
    private readonly ImmutableSortedSet<string> _set;

    private ScopeSet(ImmutableSortedSet<string> set)
    {
        _set = set;
        Key = string.Join(' ', set);
        Scopes = [.. set];
    }

    internal static ScopeSet Empty { get; } = new(ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal));

    internal string Key { get; }

    internal IReadOnlyList<string> Scopes { get; }

    internal bool IsEmpty => _set.IsEmpty;

    /// <summary>Parses a space-separated scope string; null when it names no scope.</summary>
    internal static ScopeSet? Parse(string? scope) =>
        string.IsNullOrWhiteSpace(scope) ? null : From(scope.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>The set of <paramref name="scopes"/>; null when there are none.</summary>
    internal static ScopeSet? From(IEnumerable<string>? scopes)
    {
        if (scopes is null)
        {
            return null;
        }

        var set = ImmutableSortedSet.CreateRange(StringComparer.Ordinal, scopes.Where(static s => !string.IsNullOrWhiteSpace(s)).Select(static s => s.Trim()));
        return set.IsEmpty ? null : new ScopeSet(set);
    }

    /// <summary>The most scopes one scope set may hold (a challenge's, or the union accumulated by step-up).</summary>
    internal const int MaxScopes = 64;

    /// <summary>The longest space-separated form of one scope set, in characters.</summary>
    internal const int MaxLength = 2048;

    /// <summary>S1: throws <see cref="OAuthFailureReason.LimitExceeded"/> when the set is beyond <see cref="MaxScopes"/> or <see cref="MaxLength"/>.</summary>
    internal void EnsureWithinLimits(Uri resource)
    {
        if (_set.Count > MaxScopes || Key.Length > MaxLength)
        {
            throw new OAuthException(
                $"The scopes required by '{OAuthEndpoint.Describe(resource)}' would grow to {_set.Count} scopes ({Key.Length} characters), beyond the limit of {MaxScopes} scopes and {MaxLength} characters; no token was requested.",
                OAuthFailureReason.LimitExceeded,
                resource);
        }
    }

    internal bool IsSupersetOf(ScopeSet other) => _set.IsSupersetOf(other._set);

    internal ScopeSet Union(ScopeSet other) => IsSupersetOf(other) ? this : new ScopeSet(_set.Union(other._set));

    internal ScopeSet Without(string scope) => _set.Contains(scope) ? new ScopeSet(_set.Remove(scope)) : this;

    public override string ToString() => Key;
}
