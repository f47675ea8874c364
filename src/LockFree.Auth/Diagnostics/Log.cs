using Microsoft.Extensions.Logging;

namespace LockFree.Auth.Diagnostics;

/// <summary>
/// The one log catalogue of LockFree.Auth: every message the library writes, grouped by component, each component
/// with its own range of event IDs (spec/architecture.md, "Log catalogue").
/// </summary>
/// <remarks>
/// <para>
/// Ranges: 1000–1099 core (<see cref="Core"/>), 2000–2099 protocol layer (<see cref="Protocol"/>), 3000–3099 MCP OAuth
/// provider (<see cref="ClientOAuth"/>), 3100–3199 system-browser sign-in (<see cref="SystemBrowser"/>), 4000–4099
/// cross-app access provider (<see cref="CrossApp"/>), 5000–5099 token sharing across replicas (<see cref="Sharing"/>), 6000–6099 client-credentials token manager (<see cref="ClientCredentials"/>).
/// </para>
/// <para>
/// Never a secret: arguments are names, generations, counts, status codes, exception types, failure reasons and
/// endpoints as <see cref="Endpoint"/> shows them (scheme, host and path; no query, fragment or user information).
/// Tokens, refresh tokens, codes, verifiers, assertions and client secrets have no parameter here to go into.
/// </para>
/// <para>
/// Lives in the lowest layer (it takes only primitive values), so every layer can use it without pointing upwards.
/// </para>
/// </remarks>
internal static partial class Log
{
    /// <summary>An endpoint as messages show it: scheme, authority and path (user information, query and fragment dropped).</summary>
    internal static string Endpoint(Uri endpoint) =>
        endpoint.IsAbsoluteUri ? endpoint.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped) : endpoint.OriginalString;

    /// <summary>The core's transitions (AuthCoordinator), Debug only: nothing is written on the fast path.</summary>
    internal static partial class Core
    {
        [LoggerMessage(1000, LogLevel.Debug, "Coordinator {Coordinator}: acquisition of generation {Generation} started (background refresh: {Background}).")]
        internal static partial void Started(ILogger logger, string coordinator, long generation, bool background);

        [LoggerMessage(1001, LogLevel.Debug, "Coordinator {Coordinator}: a caller joined the acquisition of generation {Generation} in flight.")]
        internal static partial void Joined(ILogger logger, string coordinator, long generation);

        [LoggerMessage(1002, LogLevel.Debug, "Coordinator {Coordinator}: the value of generation {Generation} was published.")]
        internal static partial void Published(ILogger logger, string coordinator, long generation);

        [LoggerMessage(1003, LogLevel.Debug, "Coordinator {Coordinator}: the result of generation {Generation} was returned to its waiters but not cached (an invalidation won).")]
        internal static partial void Discarded(ILogger logger, string coordinator, long generation);

        [LoggerMessage(1004, LogLevel.Debug, "Coordinator {Coordinator}: the acquisition of generation {Generation} failed ({ExceptionType}; background refresh: {Background}).")]
        internal static partial void Failed(ILogger logger, string coordinator, long generation, Type exceptionType, bool background);

        [LoggerMessage(1005, LogLevel.Debug, "Coordinator {Coordinator}: invalidated; generation {Generation} is next.")]
        internal static partial void Invalidated(ILogger logger, string coordinator, long generation);

        [LoggerMessage(1006, LogLevel.Debug, "Coordinator {Coordinator} was evicted from its full map; calls are forwarded to its successor.")]
        internal static partial void Evicted(ILogger logger, string coordinator);
    }

    /// <summary>The protocol layer: every back-channel request (metadata, registration, token endpoint), Debug only.</summary>
    internal static partial class Protocol
    {
        [LoggerMessage(2000, LogLevel.Debug, "Back channel: {Method} {Endpoint} ({Purpose}).")]
        private static partial void Sending(ILogger logger, string method, string endpoint, string purpose);

        internal static void Sending(ILogger logger, HttpMethod method, Uri endpoint, string purpose)
        {
            if (logger.IsEnabled(LogLevel.Debug)) { Sending(logger, method.Method, Endpoint(endpoint), purpose); }
        }

        [LoggerMessage(2001, LogLevel.Debug, "Back channel: {Endpoint} answered HTTP {Status} ({Bytes} bytes read).")]
        private static partial void Answered(ILogger logger, string endpoint, int status, int bytes);

        internal static void Answered(ILogger logger, Uri endpoint, int status, int bytes)
        {
            if (logger.IsEnabled(LogLevel.Debug)) { Answered(logger, Endpoint(endpoint), status, bytes); }
        }

        [LoggerMessage(2002, LogLevel.Debug, "Back channel: the request to {Endpoint} failed ({Reason}).")]
        private static partial void Failed(ILogger logger, string endpoint, string reason);

        internal static void Failed(ILogger logger, Uri endpoint, string reason)
        {
            if (logger.IsEnabled(LogLevel.Debug)) { Failed(logger, Endpoint(endpoint), reason); }
        }
    }

    /// <summary>System-browser sign-in (SystemBrowserAuthorization): never the code, the state, the redirect's query or a token.</summary>
    internal static partial class SystemBrowser
    {
        [LoggerMessage(3100, LogLevel.Information, "Listening for the authorization redirect on {RedirectUri}.")]
        internal static partial void Listening(ILogger logger, Uri redirectUri);

        [LoggerMessage(3101, LogLevel.Information, "Opening the browser for the authorization request to {Endpoint}.")]
        private static partial void OpeningBrowser(ILogger logger, string endpoint);

        internal static void OpeningBrowser(ILogger logger, Uri authorizationUri)
        {
            if (logger.IsEnabled(LogLevel.Information)) { OpeningBrowser(logger, Endpoint(new Uri(authorizationUri.GetLeftPart(UriPartial.Path)))); }
        }

        [LoggerMessage(3102, LogLevel.Warning, "Ignored a redirect whose state does not match the authorization in progress (stale or forged); still waiting.")]
        internal static partial void StateMismatch(ILogger logger);

        [LoggerMessage(3103, LogLevel.Information, "Authorization response received (code: {HasCode}, error: {Error}).")]
        internal static partial void ResponseReceived(ILogger logger, bool hasCode, string error);

        [LoggerMessage(3104, LogLevel.Warning, "The authorization was not completed within {Timeout}; the listener was closed.")]
        internal static partial void TimedOut(ILogger logger, TimeSpan timeout);

        [LoggerMessage(3105, LogLevel.Debug, "Answered a request to the loopback listener with HTTP {Status} ({Outcome}).")]
        internal static partial void Answered(ILogger logger, int status, string outcome);

        [LoggerMessage(3106, LogLevel.Information, "Closed the loopback redirect listener on port {Port}.")]
        internal static partial void Closed(ILogger logger, int port);

        [LoggerMessage(3107, LogLevel.Warning, "The redirect names another issuer than the authorization server the request went to (RFC 9207).")]
        internal static partial void IssuerMismatch(ILogger logger);

        [LoggerMessage(3108, LogLevel.Debug, "Waiting for the previous authorization of this handler to end (one listener at a time).")]
        internal static partial void WaitingForPrevious(ILogger logger);
    }

    /// <summary>The MCP OAuth provider (ClientOAuthProvider, ClientOAuthHandler): never a token, code, verifier, assertion or secret.</summary>
    internal static partial class ClientOAuth
    {
        [LoggerMessage(3000, LogLevel.Information, "The refresh token was rejected (invalid_grant) by {Endpoint}; authorizing again.")]
        private static partial void RefreshRejected(ILogger logger, string endpoint);

        internal static void RefreshRejected(ILogger logger, Uri endpoint)
        {
            if (logger.IsEnabled(LogLevel.Information)) { RefreshRejected(logger, Endpoint(endpoint)); }
        }

        [LoggerMessage(3001, LogLevel.Warning, "Storing tokens in the token cache failed ({ExceptionType}); the tokens are used anyway.")]
        internal static partial void CacheStoreFailed(ILogger logger, Type exceptionType);

        [LoggerMessage(3002, LogLevel.Warning, "Reading the token cache failed ({ExceptionType}); starting without cached tokens.")]
        internal static partial void CacheReadFailed(ILogger logger, Type exceptionType);

        [LoggerMessage(3003, LogLevel.Information, "Authorization required: waiting for the user at {Endpoint}.")]
        private static partial void WaitingForUser(ILogger logger, string endpoint);

        internal static void WaitingForUser(ILogger logger, Uri endpoint)
        {
            if (logger.IsEnabled(LogLevel.Information)) { WaitingForUser(logger, Endpoint(endpoint)); }
        }

        [LoggerMessage(3004, LogLevel.Information, "Registered client {ClientId} at {Endpoint} ({Method}).")]
        private static partial void Registered(ILogger logger, string clientId, string endpoint, string method);

        internal static void Registered(ILogger logger, string clientId, Uri endpoint, string method)
        {
            if (logger.IsEnabled(LogLevel.Information)) { Registered(logger, clientId, Endpoint(endpoint), method); }
        }

        [LoggerMessage(3005, LogLevel.Information, "No authorization server metadata at {Issuer}; using the default /authorize, /token and /register endpoints.")]
        private static partial void DefaultEndpoints(ILogger logger, string issuer);

        internal static void DefaultEndpoints(ILogger logger, Uri issuer)
        {
            if (logger.IsEnabled(LogLevel.Information)) { DefaultEndpoints(logger, Endpoint(issuer)); }
        }

        [LoggerMessage(3006, LogLevel.Debug, "No protected resource metadata at {Location} (HTTP {Status}).")]
        private static partial void NoResourceMetadata(ILogger logger, string location, int status);

        internal static void NoResourceMetadata(ILogger logger, Uri location, int status)
        {
            if (logger.IsEnabled(LogLevel.Debug)) { NoResourceMetadata(logger, Endpoint(location), status); }
        }

        [LoggerMessage(3007, LogLevel.Information, "Scope step-up completed; requests now use the scopes '{Scopes}'.")]
        internal static partial void SteppedUp(ILogger logger, string scopes);

        [LoggerMessage(3008, LogLevel.Warning, "A challenge from {Resource} named resource metadata on another origin; the hint was ignored.")]
        private static partial void ForeignMetadataHint(ILogger logger, string resource);

        internal static void ForeignMetadataHint(ILogger logger, Uri resource)
        {
            if (logger.IsEnabled(LogLevel.Warning)) { ForeignMetadataHint(logger, Endpoint(resource)); }
        }

        [LoggerMessage(3009, LogLevel.Warning, "The resource rejected {Count} tokens in a row before accepting any; the next exchange waits {Backoff}.")]
        internal static partial void FreshTokenRejected(ILogger logger, int count, TimeSpan backoff);

        [LoggerMessage(3010, LogLevel.Warning, "Tokens restored from the token cache belong to the authorization server {Issuer}, which this provider may not use; they were ignored.")]
        private static partial void RestoredTokensIgnored(ILogger logger, string issuer);

        internal static void RestoredTokensIgnored(ILogger logger, Uri issuer)
        {
            if (logger.IsEnabled(LogLevel.Warning)) { RestoredTokensIgnored(logger, Endpoint(issuer)); }
        }

        [LoggerMessage(3011, LogLevel.Warning, "A background acquisition failed ({ExceptionType}, {Reason}); the cached value is kept while usable and the next caller retries.")]
        private static partial void BackgroundAcquisitionFailed(ILogger logger, Type exceptionType, OAuthFailureReason reason);

        [LoggerMessage(3012, LogLevel.Debug, "An acquisition failed ({ExceptionType}, {Reason}); its waiters receive the error.")]
        private static partial void ForegroundAcquisitionFailed(ILogger logger, Type exceptionType, OAuthFailureReason reason);

        /// <summary>O1: every failed acquisition is logged (never its message: it could name a server's words, never a secret, but stay terse).</summary>
        internal static void AcquisitionFailed(ILogger logger, bool background, Exception exception)
        {
            var reason = exception is OAuthException oauth ? oauth.Reason : OAuthFailureReason.Unspecified;
            if (background)
            {
                BackgroundAcquisitionFailed(logger, exception.GetType(), reason);
            }
            else
            {
                ForegroundAcquisitionFailed(logger, exception.GetType(), reason);
            }
        }

        [LoggerMessage(3013, LogLevel.Warning, "The token endpoint {Endpoint} rejected the RFC 8707 resource parameter on refresh (AADSTS9010010); refreshing once more without it, and omitting it on later refreshes at this authorization server.")]
        private static partial void RefreshWithoutResource(ILogger logger, string endpoint);

        internal static void RefreshWithoutResource(ILogger logger, Uri endpoint)
        {
            if (logger.IsEnabled(LogLevel.Warning)) { RefreshWithoutResource(logger, Endpoint(endpoint)); }
        }
    }

    /// <summary>The cross-app access provider (CrossApplicationAccessProvider): never an ID token, ID-JAG, access token or secret.</summary>
    internal static partial class CrossApp
    {
        [LoggerMessage(4000, LogLevel.Debug, "Cross-app access exchange starting for resource {Resource} via authorization server {AuthorizationServer} (background refresh: {IsBackgroundRefresh}).")]
        internal static partial void ExchangeStarting(ILogger logger, Uri resource, Uri authorizationServer, bool isBackgroundRefresh);

        [LoggerMessage(4001, LogLevel.Debug, "Obtained an ID-JAG for resource {Resource} from {IdpTokenEndpoint}.")]
        internal static partial void IdJagObtained(ILogger logger, Uri resource, string idpTokenEndpoint);

        [LoggerMessage(4002, LogLevel.Information, "Obtained an access token for resource {Resource} from authorization server {AuthorizationServer} (expires in {ExpiresIn}).")]
        internal static partial void AccessTokenObtained(ILogger logger, Uri resource, Uri authorizationServer, TimeSpan? expiresIn);

        [LoggerMessage(4003, LogLevel.Warning, "Cross-app access for resource {Resource} via authorization server {AuthorizationServer} failed during the {Step}: {Reason} {OAuthError}.")]
        internal static partial void ExchangeFailed(ILogger logger, Uri resource, Uri authorizationServer, string step, OAuthFailureReason reason, string? oAuthError);

        [LoggerMessage(4004, LogLevel.Debug, "Cross-app access cache invalidated (tokens and metadata).")]
        internal static partial void InvalidatedAll(ILogger logger);

        [LoggerMessage(4005, LogLevel.Debug, "Rejected access token for resource {Resource} via authorization server {AuthorizationServer} retired.")]
        internal static partial void InvalidatedRejected(ILogger logger, Uri resource, Uri authorizationServer);

        [LoggerMessage(4006, LogLevel.Warning, "A background refresh for resource {Resource} via authorization server {AuthorizationServer} failed ({ExceptionType}, {Reason}); the cached token is kept while usable.")]
        internal static partial void BackgroundRefreshFailed(ILogger logger, Uri resource, Uri authorizationServer, Type exceptionType, OAuthFailureReason reason);
    }
    /// <summary>Token sharing across replicas (SharedTokenAcquisition, issue 13): Debug for each step, Warning when the store fails.</summary>
    internal static partial class Sharing
    {
        [LoggerMessage(5000, LogLevel.Debug, "Shared {Name}: adopted version {Version} from the shared store (no exchange).")]
        internal static partial void Adopted(ILogger logger, string name, long version);

        [LoggerMessage(5001, LogLevel.Debug, "Shared {Name}: lease granted at version {Version}; exchanging.")]
        internal static partial void LeaseGranted(ILogger logger, string name, long version);

        [LoggerMessage(5002, LogLevel.Debug, "Shared {Name}: another replica holds the lease at version {Version}; waiting at most {BoundMilliseconds} ms for its notification.")]
        internal static partial void Waiting(ILogger logger, string name, long version, long boundMilliseconds);

        [LoggerMessage(5003, LogLevel.Debug, "Shared {Name}: published version {Version}.")]
        internal static partial void Published(ILogger logger, string name, long version);

        [LoggerMessage(5004, LogLevel.Information, "Shared {Name}: the exchange at fence {Fence} was superseded by version {Version} (the lease had expired); the newer version stays.")]
        internal static partial void Superseded(ILogger logger, string name, long fence, long version);

        [LoggerMessage(5005, LogLevel.Warning, "Shared {Name}: the shared token store is unavailable ({ExceptionType}); mode {Mode}: Degrade exchanges with per-process coalescing only, FailClosed fails the acquisition.")]
        internal static partial void StoreUnavailable(ILogger logger, string name, Type exceptionType, string mode);

        [LoggerMessage(5006, LogLevel.Information, "Shared {Name}: the shared token store is available again.")]
        internal static partial void StoreRecovered(ILogger logger, string name);

        [LoggerMessage(5007, LogLevel.Warning, "Shared {Name}: a new token set was exchanged at fence {Fence} but could not be published ({ExceptionType}); it is served by this process only.")]
        internal static partial void PublishFailed(ILogger logger, string name, long fence, Type exceptionType);

        [LoggerMessage(5008, LogLevel.Debug, "Shared {Name}: conditional invalidation in the shared store (retired: {Retired}).")]
        internal static partial void Invalidated(ILogger logger, string name, bool retired);

        [LoggerMessage(5009, LogLevel.Warning, "Shared {Name}: the shared token set belongs to an authorization server this provider may not use; it was ignored.")]
        internal static partial void Ignored(ILogger logger, string name);

        [LoggerMessage(5010, LogLevel.Warning, "Shared {Name}: the conditional invalidation after a rejection failed ({ExceptionType}); the shared record is replaced at its next exchange.")]
        internal static partial void InvalidationFailed(ILogger logger, string name, Type exceptionType);

        [LoggerMessage(5011, LogLevel.Information, "Shared {Name}: the store is unavailable and the refresh token at hand came through it (other replicas may hold it); exchanging with the configured grant instead, so the shared token chain is not reused.")]
        internal static partial void SharedRefreshTokenWithheld(ILogger logger, string name);
    }

    /// <summary>The client-credentials token manager (ClientCredentialsTokenManager, its handler): never a token, assertion or secret.</summary>
    internal static partial class ClientCredentials
    {
        [LoggerMessage(6000, LogLevel.Debug, "Client {Client}: requesting an access token from {Endpoint} (background refresh: {Background}).")]
        private static partial void Requesting(ILogger logger, string client, string endpoint, bool background);

        internal static void Requesting(ILogger logger, string client, Uri endpoint, bool background)
        {
            if (logger.IsEnabled(LogLevel.Debug)) { Requesting(logger, client, Endpoint(endpoint), background); }
        }

        [LoggerMessage(6001, LogLevel.Debug, "Client {Client}: obtained an access token (expires in {ExpiresIn}).")]
        internal static partial void Obtained(ILogger logger, string client, TimeSpan? expiresIn);

        [LoggerMessage(6002, LogLevel.Warning, "Client {Client}: a background refresh failed ({ExceptionType}, {Reason}); the cached token is served while usable and the next caller retries.")]
        private static partial void BackgroundAcquisitionFailed(ILogger logger, string client, Type exceptionType, OAuthFailureReason reason);

        [LoggerMessage(6003, LogLevel.Debug, "Client {Client}: an acquisition failed ({ExceptionType}, {Reason}); its waiters receive the error.")]
        private static partial void ForegroundAcquisitionFailed(ILogger logger, string client, Type exceptionType, OAuthFailureReason reason);

        /// <summary>Every failed acquisition (never its message: terse, and it could echo a server's words).</summary>
        internal static void AcquisitionFailed(ILogger logger, string client, bool background, Exception exception)
        {
            var reason = exception is OAuthException oauth ? oauth.Reason : OAuthFailureReason.Unspecified;
            if (background)
            {
                BackgroundAcquisitionFailed(logger, client, exception.GetType(), reason);
            }
            else
            {
                ForegroundAcquisitionFailed(logger, client, exception.GetType(), reason);
            }
        }

        [LoggerMessage(6004, LogLevel.Debug, "Client {Client}: a token was reported rejected; the cached token was retired: {Retired}.")]
        internal static partial void Rejected(ILogger logger, string client, bool retired);
    }
}
