using LockFree.Auth.Diagnostics;
using System.Net;
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
/// The provider keeps the challenge policy and orchestrates the acquisition; discovery (<see cref="McpServerDiscovery"/>),
/// client identity (<see cref="ClientIdentities"/>), the authorization code flow (<see cref="AuthorizationCodeFlow"/>),
/// the rejection policy (<see cref="RejectionPolicy"/>) and the protocol I/O (<see cref="TokenGrantClient"/>,
/// <see cref="ClientRegistrationClient"/>) are their own types. See <c>spec/client-oauth.md</c>.
/// </para>
/// <para>
/// Concurrency: every member is safe to call from any thread. A valid cached token is read with a few volatile
/// reads and no allocation. Concurrent requests that need a new token (expired, or rejected with the same token)
/// share one exchange: one refresh, one client-credentials grant or one interactive authorization. Metadata and
/// registration are fetched once and shared. An interactive authorization never blocks requests whose token is
/// valid (including other scope sets); a caller's <see cref="CancellationToken"/> ends only its own wait, and the
/// shared work is cancelled only when every waiter left or the provider is disposed. No locks, no blocking waits.
/// With <see cref="ClientOAuthOptions.SharedTokens"/>, replicas in other processes share the exchange too: the store is
/// consulted only when a new token is needed (<c>spec/distributed.md</c>).
/// </para>
/// </remarks>
public sealed class ClientOAuthProvider : IDisposable
{
    private readonly Uri _serverUrl;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ClientOAuthSettings _settings;
    private readonly IssuerTrust _trust;
    private readonly McpServerDiscovery _discovery;
    private readonly ClientIdentities _clients;
    private readonly RejectionPolicy _rejections;
    private readonly TokenGrantClient _grants;
    private readonly AuthorizationCodeFlow _authorizationCode;
    private readonly AuthCoordinatorMap<string, TokenEntry> _tokens;
    private readonly TokenCacheStore? _tokenCache;
    private readonly RefreshResourceCompatibility _refreshCompatibility = new();
    private readonly DPoPProofs? _dpop;

    // Where every coordinator of this provider (and its shared acquisitions) records: the meter of
    // ClientOAuthOptions.MeterFactory, else the static meter. Written once by the constructor.
    private readonly AuthInstruments _instruments;

    // The provider's one mutable reference: written only by CAS (Update/TryReplace; the R1 fields by RejectionPolicy,
    // the others here), read with a volatile read.
    private readonly AuthCell<ProviderState> _state = new(ProviderState.Initial);

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

        _settings = ClientOAuthSettings.From(options);
        _trust = new IssuerTrust(options.TrustedAuthorizationServers, $"{nameof(ClientOAuthOptions)}.{nameof(ClientOAuthOptions.TrustedAuthorizationServers)}", pinOnFirstUse: _settings.ClientId is not null);
        _serverUrl = serverUrl;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ClientOAuthProvider>();
        var channel = backChannel ?? new BackChannel(httpClient!, _time, _settings.MaxResponseBytes, _settings.BackChannelTimeout, _logger);

        // The core's Debug events (Log.Core) go to the provider's logger factory unless the user gave TokenExpiry its own.
        _settings.TokenExpiry.LoggerFactory ??= loggerFactory;
        _instruments = AuthInstruments.For(options.MeterFactory);
        _settings.TokenExpiry.Instruments = _instruments;
        _dpop = options.DPoPKeyStore is { } dpopKeys ? new DPoPProofs(dpopKeys, _time) : null;
        _grants = new TokenGrantClient(new TokenEndpointClient(channel), _dpop);
        _authorizationCode = new AuthorizationCodeFlow(_settings, _grants, _logger);
        Action<Exception, bool> onFailed = (exception, background) => Log.ClientOAuth.AcquisitionFailed(_logger, background, exception);
        _discovery = new McpServerDiscovery(serverUrl, channel, _settings, _trust, _time, _logger, onFailed, _instruments);
        _clients = new ClientIdentities(channel, _settings, _trust, _time, _logger, onFailed, _instruments);
        _rejections = new RejectionPolicy(_state, _settings, _discovery, _clients, _time, _logger, OnTokenRetired);
        _tokens = new AuthCoordinatorMap<string, TokenEntry>(
            key => new AuthCoordinator<TokenEntry>((context, ct) => AcquireTokensAsync(key, context, ct), static e => e.Tokens.ExpiresAt, _time, _settings.TokenExpiry) { OnAcquisitionFailed = onFailed },
            _settings.CacheCapacity);
        _tokenCache = TokenCacheStore.Create(_settings.TokenCache, _trust, serverUrl, _time, _logger, _instruments);
    }

    /// <summary>For the Coyote suite: the rejection policy (its seeded-bug hook) and the R1 state it keeps.</summary>
    internal RejectionPolicy Rejections => _rejections;

    /// <summary>For the Coyote suite: the provider's current snapshot (the R1 count).</summary>
    internal ProviderState State => _state.Current;

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
        _discovery.Dispose();
        _tokenCache?.Dispose();
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

        if (state.Active is null && _tokenCache is not null)
        {
            if (await _tokenCache.RestoreAsync(cancellationToken).ConfigureAwait(false) is { } tokens)
            {
                var scopes = ScopeSet.Parse(tokens.Scope) ?? ScopeSet.From(_settings.Scopes) ?? ScopeSet.Empty;
                Activate(scopes, _tokens.For(scopes.Key));
                state = _state.Current;
            }
        }

        return state.Active is { } active ? await active.GetAsync(cancellationToken).ConfigureAwait(false) : null;
    }

    // ---------------------------------------------------------------- challenge policy

    /// <summary>
    /// Handles a challenge to a request sent with <paramref name="rejected"/> (null: sent without a token). Returns the
    /// token to retry with, or null when the response should be passed through. <paramref name="attempts"/> is the
    /// request's record of the challenges already answered (the provider counts the step-up limit there); null: no limit.
    /// </summary>
    internal async Task<TokenEntry?> HandleChallengeAsync(TokenEntry? rejected, HttpStatusCode status, IReadOnlyList<WwwAuthenticateChallenge> challenges, ChallengeAttempts? attempts, CancellationToken cancellationToken)
    {
        if (attempts is not null && !attempts.TryCount(status, _settings.MaxStepUpAttempts))
        {
            // The step-up limit (owned here): one retry after a 401, MaxStepUpAttempts after a 403; then the response is returned as is.
            return null;
        }

        ThrowIfDisposed();
        var bearer = challenges.FirstOrDefault(static c => c.IsBearer);
        var hint = bearer?["resource_metadata"];
        if (hint is not null && !UriOrigin.IsSame(OAuthEndpoint.TryParseAbsolute(hint), _serverUrl))
        {
            // T6: resource metadata is read only from the resource's own origin; a hint elsewhere is ignored.
            Log.ClientOAuth.ForeignMetadataHint(_logger, _serverUrl);
            hint = null;
        }

        var challengeScope = ScopeSet.Parse(bearer?["scope"]);
        challengeScope?.EnsureWithinLimits(_serverUrl);
        if (hint is not null)
        {
            // CAS: only the hint changes (the latest challenge's wins); the scope set in use is never touched here.
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
            if (challengeScope is not null && !rejected.Scopes.IsSupersetOf(challengeScope))
            {
                // The resource asks for scopes the rejected token does not have: a step-up through a 401.
                return await StepUpAsync(rejected, challengeScope, cancellationToken).ConfigureAwait(false);
            }

            if (state.Active is { } current)
            {
                return await _rejections.OnTokenRejectedAsync(rejected, current, cancellationToken).ConfigureAwait(false);
            }
        }
        else if (state.Active is { } established)
        {
            // The request went without a token, but another request has authorized meanwhile.
            return await established.GetAsync(cancellationToken).ConfigureAwait(false);
        }

        // First authorization: discover, choose the scopes, and share one acquisition for that scope set.
        var metadata = await _discovery.GetAsync(state.MetadataHint ?? hint, cancellationToken).ConfigureAwait(false);
        var scopes = challengeScope ?? ScopeSet.From(metadata.ResourceMetadata?.ScopesSupported) ?? ScopeSet.From(_settings.Scopes) ?? ScopeSet.Empty;
        var active = Activate(scopes, _tokens.For(scopes.Key));
        return await active.GetAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A challenge outside a request's replay loop (tests): no limit on the number of challenges.</summary>
    internal Task<TokenEntry?> HandleChallengeAsync(TokenEntry? rejected, HttpStatusCode status, IReadOnlyList<WwwAuthenticateChallenge> challenges, CancellationToken cancellationToken) =>
        HandleChallengeAsync(rejected, status, challenges, null, cancellationToken);

    /// <summary>The resource accepted a token (any answer but 401): the count of fresh tokens it rejected starts over (R1).</summary>
    internal void OnTokenAccepted() => _rejections.OnTokenAccepted();

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

        // Only a successful step-up changes the scope set in use, and only to a superset of it (CAS: the scope set in
        // use only grows, whatever the order of concurrent step-ups).
        _state.Update(
            static (s, arg) => s.ActiveScopeSet is { } current && !arg.Wanted.IsSupersetOf(current) ? s : s with { Active = arg.Coordinator, ActiveScopeSet = arg.Wanted },
            (Wanted: wanted, Coordinator: coordinator));
        Log.ClientOAuth.SteppedUp(_logger, wanted.Key);
        return entry;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private AuthCoordinator<TokenEntry> Activate(ScopeSet scopes, AuthCoordinator<TokenEntry> coordinator)
    {
        // CAS: the first scope set activated wins; a later activation (or a concurrent step-up) never replaces it here.
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
        if (previous is null && _tokenCache is not null)
        {
            var restored = await _tokenCache.RestoreAsync(cancellationToken).ConfigureAwait(false);
            if (restored is not null && (ScopeSet.Parse(restored.Scope) ?? ScopeSet.From(_settings.Scopes) ?? ScopeSet.Empty).Key == key)
            {
                if (_settings.SharedTokens is not null)
                {
                    // Issue 13 (R29): with sharing on, a cached token set may have come from the shared store (other
                    // replicas may hold its refresh token), so it is never refreshed while the store is unavailable.
                    restored = restored with { IsShared = true };
                }

                if (restored.ExpiresAt is not { } expires || expires - _time.GetUtcNow() > TimeSpan.FromSeconds(30))
                {
                    return new TokenEntry(restored, scopes, restored.Issuer, null);
                }

                previous = restored;
            }
        }

        var metadata = await _discovery.GetAsync(_state.Current.MetadataHint, cancellationToken).ConfigureAwait(false);

        // T3: nothing (registration, client credentials, code, verifier, refresh token) goes to an untrusted issuer. With
        // pre-registered credentials and nothing configured, the pin is claimed here, before the first request that can
        // carry them (a compare-and-swap: of two first uses racing with different issuers exactly one goes on).
        if (!_trust.Pin(metadata.Issuer))
        {
            _trust.Demand(metadata.Issuer, metadata.ResourceMetadata?.Source);
        }

        var client = await _clients.GetAsync(metadata, cancellationToken).ConfigureAwait(false);
        TokenContainer tokens;
        if (_settings.SharedTokens is { } sharing)
        {
            // Issue 13: the shared record of (identity, resource, issuer, scope set) is consulted only here, on the slow
            // path. A shared token set of another issuer is ignored (T3/T5, like a restored one); the exchange runs only
            // while this replica holds the lease, with the refresh token of the record's version.
            var issuer = metadata.IssuerText;
            var shared = sharing.Acquisition(
                SharedKey(sharing, issuer, key, client.ClientId),
                (shared, ct) => ExchangeAsync(scopes, shared.Previous, metadata, client, ct),
                t => string.Equals(t.Issuer, issuer, StringComparison.Ordinal),
                _time,
                _instruments);
            tokens = await shared.AcquireAsync(new AcquisitionContext<TokenContainer>(previous, context.Generation, context.IsBackgroundRefresh), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            tokens = await ExchangeAsync(scopes, previous, metadata, client, cancellationToken).ConfigureAwait(false);
        }

        if (_tokenCache is not null)
        {
            await _tokenCache.StoreAsync(tokens, cancellationToken).ConfigureAwait(false);
        }

        return new TokenEntry(tokens, scopes, metadata.IssuerText, metadata, client.ClientId);
    }

    /// <summary>One exchange at <paramref name="metadata"/>'s token endpoint: refresh with <paramref name="previous"/>'s refresh token if it may go there, else the configured grant.</summary>
    private async Task<TokenContainer> ExchangeAsync(ScopeSet scopes, TokenContainer? previous, ServerMetadata metadata, ClientRegistration client, CancellationToken cancellationToken)
    {
        TokenContainer? tokens = null;
        try
        {
            if (previous?.RefreshToken is { } refreshToken && MayRefreshWith(previous.Issuer, metadata))
            {
                try
                {
                    tokens = await _refreshCompatibility.RefreshAsync(_grants, metadata, Authentication(client), refreshToken, _logger, cancellationToken).ConfigureAwait(false);
                    if (tokens.RefreshToken is null)
                    {
                        tokens = tokens with { RefreshToken = refreshToken };
                    }
                }
                catch (OAuthException ex) when (_rejections.IsRefreshTokenRejected(ex, metadata))
                {
                    // The refresh token is dropped: authorize below.
                }
            }

            tokens ??= _settings.GrantType == OAuthGrantType.ClientCredentials
                ? await _grants.ClientCredentialsAsync(metadata.GrantTarget, Authentication(client), scopes.IsEmpty ? null : scopes.Key, cancellationToken).ConfigureAwait(false)
                : await _authorizationCode.AuthorizeAsync(metadata, client, scopes, cancellationToken).ConfigureAwait(false);
        }
        catch (OAuthException ex)
        {
            _rejections.OnTokenEndpointError(ex, metadata, client);
            throw;
        }

        // T4: the tokens carry their issuer (through ITokenCache and the shared store too); the issuer was pinned before
        // they were asked for.
        return tokens with { Issuer = metadata.IssuerText };
    }

    /// <summary>
    /// The shared record key of a scope set's tokens: the identity, this resource, the issuer, the scope set and the
    /// client ID (issue 13). The client ID because tokens are bound to the client they were issued to: after a shared
    /// registration is replaced, the new client's tokens never meet the old client's refresh token.
    /// </summary>
    private string SharedKey(TokenSharing sharing, string issuer, string scopeKey, string clientId) =>
        sharing.KeyFor("oauth", _serverUrl.AbsoluteUri, issuer, scopeKey, clientId);

    /// <summary>
    /// After a 401 for <paramref name="rejected"/> retired it here: retires the shared record too if it still holds
    /// that token (in the background; a failure is logged). Tokens restored from an <see cref="ITokenCache"/> (no known
    /// client ID or issuer) have no record of their own; the next acquisition does not adopt them again anyway (it skips
    /// a record holding the token it replaces).
    /// </summary>
    private void OnTokenRetired(TokenEntry rejected)
    {
        if (_settings.SharedTokens is { } sharing && rejected.Issuer is { } issuer && rejected.ClientId is { } clientId)
        {
            sharing.InvalidateInBackground(SharedKey(sharing, issuer, rejected.Scopes.Key, clientId), rejected.Tokens, _time, _instruments);
        }
    }

    /// <summary>
    /// T4: a refresh token goes only to the issuer that issued it; one restored without an issuer (an older cache) only to
    /// an issuer that is configured as trusted or already pinned.
    /// </summary>
    private bool MayRefreshWith(string? issuer, ServerMetadata metadata) =>
        issuer is not null
            ? string.Equals(issuer, metadata.IssuerText, StringComparison.Ordinal)
            : _trust.IsEstablished(metadata.Issuer);

    private ClientAuthentication Authentication(ClientRegistration client) =>
        ClientAuthentication.Create(client.TokenEndpointAuthMethod, client.ClientId, client.ClientSecret, _settings.ClientAssertion);

    /// <summary>DPoP proofs and nonces, when <see cref="ClientOAuthOptions.DPoPKeyStore"/> is set.</summary>
    internal DPoPProofs? DPoP => _dpop;

    /// <summary>The coordinator of the scope set in use (tests and statistics).</summary>
    internal AuthCoordinator<TokenEntry>? ActiveCoordinator => _state.Current.Active;
}
