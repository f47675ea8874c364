using System.Collections.Frozen;
using System.Diagnostics.Metrics;
using LockFree.Auth.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LockFree.Auth.ClientCredentials;

/// <summary>
/// Access tokens for machine-to-machine calls (OAuth 2.0 client-credentials grant, RFC 6749 §4.4) for one or more
/// named clients: cached, refreshed ahead of expiry, and obtained with one exchange however many callers ask at once.
/// </summary>
/// <remarks>
/// <para>
/// One <see cref="AuthCoordinatorMap{TKey, T}"/> holds a coordinator per (client name, scope, resource), at most
/// <c>capacity</c> of them (an idle or expired key is evicted first). A request that names its own scope or resource
/// (<see cref="ClientCredentialsTokenRequest"/>) is cached under its own key. Tokens are refreshed in the background
/// ahead of expiry (<see cref="ClientCredentialsClientOptions.TokenExpiry"/>) while the cached one is still served.
/// </para>
/// <para>
/// Every request goes through the library's back channel: the endpoint rule (https, plain http only to loopback),
/// no redirect followed, bounded response size and deadline. Failures are <see cref="OAuthException"/>s whose
/// <see cref="OAuthException.Reason"/> says what failed; no message, log event or <see cref="object.ToString"/> holds a
/// client secret, an assertion or a token.
/// </para>
/// <para>
/// Concurrency: every member is safe to call concurrently from any thread. A cached, usable token is returned with a
/// dictionary lookup and one volatile read, without allocating or blocking. A caller's cancellation token cancels only
/// that caller's wait, never the shared exchange (it is cancelled only when every waiter has left, or by
/// <see cref="Dispose"/>). <see cref="InvalidateToken"/> never blocks and retires a token only if it is still the cached
/// one, so a late rejection of a token that was already replaced costs no exchange.
/// </para>
/// </remarks>
public sealed class ClientCredentialsTokenManager : IDisposable
{
    /// <summary>The number of (client, scope, resource) keys kept when no capacity is given.</summary>
    public const int DefaultCapacity = 64;

    /// <summary>The log category of the manager's events (event IDs 5000–5099) and of its back channel.</summary>
    internal const string LoggerCategory = "LockFree.Auth.ClientCredentials.ClientCredentialsTokenManager";

    // Written once by the constructor (a frozen dictionary of immutable clients); read without synchronization.
    private readonly FrozenDictionary<string, ClientCredentialsClient> _clients;

    // The only mutable state: the map's own CAS cell and its coordinators' cells.
    private readonly AuthCoordinatorMap<TokenKey, ClientCredentialsToken> _tokens;
    private readonly ILogger _logger;

    /// <summary>Creates a manager for <paramref name="clients"/>.</summary>
    /// <param name="clients">The clients by name (names compare ordinally); each one's options are validated and copied now.</param>
    /// <param name="backChannel">
    /// Returns the <see cref="HttpClient"/> for one metadata or token request; called for every request and never
    /// disposed. Pass <c>() =&gt; httpClient</c> for a shared client, or a factory's <c>CreateClient</c>. Its handler may
    /// follow redirects: the back channel refuses them anyway (prefer <c>AllowAutoRedirect = false</c>).
    /// </param>
    /// <param name="timeProvider">The clock of expiry, refresh-ahead and deadlines; <see cref="TimeProvider.System"/> when omitted.</param>
    /// <param name="loggerFactory">Where Debug to Warning events go (category <c>LockFree.Auth.ClientCredentials.ClientCredentialsTokenManager</c>); none when omitted.</param>
    /// <param name="capacity">The most (client, scope, resource) keys cached; <see cref="DefaultCapacity"/> when omitted.</param>
    /// <param name="meterFactory">
    /// Where the meter <c>LockFree.Auth</c> (<see cref="AuthMetrics"/>) comes from: with a factory (the container's, which
    /// <c>AddClientCredentialsTokenManagement</c> passes), every measurement of this manager is recorded on the factory's
    /// meter, which the factory owns and disposes; when omitted, on the library's static meter.
    /// </param>
    /// <exception cref="ArgumentException">A name is empty, or a client's options are invalid (the message names each option).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public ClientCredentialsTokenManager(
        IReadOnlyDictionary<string, ClientCredentialsClientOptions> clients,
        Func<HttpClient> backChannel,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null,
        int capacity = DefaultCapacity,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(clients);
        ArgumentNullException.ThrowIfNull(backChannel);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        var time = timeProvider ?? TimeProvider.System;
        _logger = loggerFactory?.CreateLogger(LoggerCategory) ?? NullLogger.Instance;
        var instruments = AuthInstruments.For(meterFactory);
        var built = new Dictionary<string, ClientCredentialsClient>(StringComparer.Ordinal);
        foreach (var (name, options) in clients)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ArgumentException("A client name must not be empty.", nameof(clients));
            }

            ArgumentNullException.ThrowIfNull(options);
            var errors = options.Validate();
            if (errors.Count > 0)
            {
                throw new ArgumentException($"The options of the client '{name}' are invalid: {string.Join(" ", errors)}", nameof(clients));
            }

            built.Add(name, new ClientCredentialsClient(name, options, backChannel, time, loggerFactory, _logger, instruments));
        }

        TimeProvider = time;
        _clients = built.ToFrozenDictionary(StringComparer.Ordinal);
        _tokens = new AuthCoordinatorMap<TokenKey, ClientCredentialsToken>(CreateCoordinator, capacity);
    }

    /// <summary>The names of the clients this manager serves.</summary>
    public IReadOnlyCollection<string> ClientNames => _clients.Keys;

    /// <summary>The clock of expiry and refresh-ahead.</summary>
    internal TimeProvider TimeProvider { get; }

    /// <summary>
    /// The access token of <paramref name="clientName"/> for <paramref name="request"/> (or the client's configured
    /// scope and resource): the cached one while usable, otherwise the result of the one exchange every concurrent
    /// caller of that key shares.
    /// </summary>
    /// <param name="clientName">A configured client's name.</param>
    /// <param name="request">Another scope or resource than the configured ones; each combination is cached separately.</param>
    /// <param name="cancellationToken">Cancels this caller's wait only, never the shared exchange.</param>
    /// <returns>The token; the same instance for every caller served by one exchange.</returns>
    /// <exception cref="ArgumentException"><paramref name="clientName"/> is not a configured client, or the request's resource is not an absolute URI.</exception>
    /// <exception cref="OAuthException">The exchange failed (every waiter of that exchange gets the same exception).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The manager was disposed.</exception>
    public Task<ClientCredentialsToken> GetAccessTokenAsync(string clientName, ClientCredentialsTokenRequest? request = null, CancellationToken cancellationToken = default) =>
        _tokens.For(Client(clientName).KeyFor(request)).GetAsync(cancellationToken);

    /// <summary>
    /// Retires the cached token of <paramref name="clientName"/> for <paramref name="request"/> only if it is still
    /// <paramref name="rejectedAccessToken"/> (for example after an API answered <c>401</c> to it); the next call then
    /// obtains a new one. A token that was already replaced is left alone. Never blocks.
    /// </summary>
    /// <param name="clientName">A configured client's name.</param>
    /// <param name="rejectedAccessToken">The access token that was rejected.</param>
    /// <param name="request">The scope or resource the token was obtained for, as given to <see cref="GetAccessTokenAsync"/>.</param>
    /// <returns><see langword="true"/> if the cached token was retired by this call.</returns>
    /// <exception cref="ArgumentException"><paramref name="clientName"/> is not a configured client.</exception>
    public bool InvalidateToken(string clientName, string rejectedAccessToken, ClientCredentialsTokenRequest? request = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(rejectedAccessToken);
        var client = Client(clientName);
        var key = client.KeyFor(request);
        var retired = _tokens.TryGet(key)?.Invalidate(
            static (cached, rejected) => string.Equals(cached.AccessToken, rejected, StringComparison.Ordinal),
            rejectedAccessToken) ?? false;
        client.InvalidateShared(key, rejectedAccessToken);
        Log.ClientCredentials.Rejected(_logger, clientName, retired);
        return retired;
    }

    /// <summary>Retires the cached token of <paramref name="clientName"/> for <paramref name="request"/> only if it is <paramref name="rejected"/> itself.</summary>
    internal bool InvalidateRejected(string clientName, ClientCredentialsToken rejected, ClientCredentialsTokenRequest? request)
    {
        var client = Client(clientName);
        var key = client.KeyFor(request);
        var retired = _tokens.TryGet(key)?.Invalidate(static (cached, token) => ReferenceEquals(cached, token), rejected) ?? false;
        client.InvalidateShared(key, rejected.AccessToken);
        Log.ClientCredentials.Rejected(_logger, clientName, retired);
        return retired;
    }

    /// <summary>The coordinator of a client's key if it exists (for statistics in tests).</summary>
    internal AuthCoordinator<ClientCredentialsToken>? CoordinatorFor(string clientName, ClientCredentialsTokenRequest? request = null) =>
        _tokens.TryGet(Client(clientName).KeyFor(request));

    /// <summary>Cancels the exchanges in flight, drops every cached token and releases the timers. The back channel's clients are not disposed.</summary>
    public void Dispose()
    {
        _tokens.Dispose();
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }

    private ClientCredentialsClient Client(string clientName)
    {
        ArgumentNullException.ThrowIfNull(clientName);
        return _clients.TryGetValue(clientName, out var client)
            ? client
            : throw new ArgumentException($"No client-credentials client named '{clientName}' is configured (configured: {string.Join(", ", _clients.Keys.Order(StringComparer.Ordinal))}).", nameof(clientName));
    }

    private AuthCoordinator<ClientCredentialsToken> CreateCoordinator(TokenKey key)
    {
        var client = _clients[key.Client];
        var logger = _logger;
        return new AuthCoordinator<ClientCredentialsToken>(
            (context, ct) => client.AcquireAsync(key, context, ct),
            static token => token.ExpiresAt,
            TimeProvider,
            client.TokenExpiry)
        {
            OnAcquisitionFailed = (exception, background) => Log.ClientCredentials.AcquisitionFailed(logger, key.Client, background, exception),
        };
    }
}
