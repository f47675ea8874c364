using Microsoft.Extensions.Logging;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>The log messages of <see cref="ClientOAuthProvider"/>. None carries a token, code, verifier, assertion or secret.</summary>
internal static partial class ClientOAuthLog
{
    [LoggerMessage(1, LogLevel.Information, "The refresh token was rejected (invalid_grant) by {Endpoint}; authorizing again.")]
    private static partial void RefreshRejected(ILogger logger, string endpoint);

    internal static void RefreshRejected(ILogger logger, Uri endpoint)
    {
        if (logger.IsEnabled(LogLevel.Information)) { RefreshRejected(logger, OAuthEndpoint.Describe(endpoint)); }
    }

    [LoggerMessage(2, LogLevel.Warning, "Storing tokens in the token cache failed ({ExceptionType}); the tokens are used anyway.")]
    internal static partial void CacheStoreFailed(ILogger logger, Type exceptionType);

    [LoggerMessage(3, LogLevel.Warning, "Reading the token cache failed ({ExceptionType}); starting without cached tokens.")]
    internal static partial void CacheReadFailed(ILogger logger, Type exceptionType);

    [LoggerMessage(4, LogLevel.Information, "Authorization required: waiting for the user at {Endpoint}.")]
    private static partial void WaitingForUser(ILogger logger, string endpoint);

    internal static void WaitingForUser(ILogger logger, Uri endpoint)
    {
        if (logger.IsEnabled(LogLevel.Information)) { WaitingForUser(logger, OAuthEndpoint.Describe(endpoint)); }
    }

    [LoggerMessage(5, LogLevel.Information, "Registered client {ClientId} at {Endpoint} ({Method}).")]
    private static partial void Registered(ILogger logger, string clientId, string endpoint, string method);

    internal static void Registered(ILogger logger, string clientId, Uri endpoint, string method)
    {
        if (logger.IsEnabled(LogLevel.Information)) { Registered(logger, clientId, OAuthEndpoint.Describe(endpoint), method); }
    }

    [LoggerMessage(6, LogLevel.Information, "No authorization server metadata at {Issuer}; using the default /authorize, /token and /register endpoints.")]
    private static partial void DefaultEndpoints(ILogger logger, string issuer);

    internal static void DefaultEndpoints(ILogger logger, Uri issuer)
    {
        if (logger.IsEnabled(LogLevel.Information)) { DefaultEndpoints(logger, OAuthEndpoint.Describe(issuer)); }
    }

    [LoggerMessage(7, LogLevel.Debug, "No protected resource metadata at {Location} (HTTP {Status}).")]
    private static partial void NoResourceMetadata(ILogger logger, string location, int status);

    internal static void NoResourceMetadata(ILogger logger, Uri location, int status)
    {
        if (logger.IsEnabled(LogLevel.Debug)) { NoResourceMetadata(logger, OAuthEndpoint.Describe(location), status); }
    }

    [LoggerMessage(8, LogLevel.Information, "Scope step-up completed; requests now use the scopes '{Scopes}'.")]
    internal static partial void SteppedUp(ILogger logger, string scopes);

    [LoggerMessage(9, LogLevel.Warning, "A challenge from {Resource} named resource metadata on another origin; the hint was ignored.")]
    private static partial void ForeignMetadataHint(ILogger logger, string resource);

    internal static void ForeignMetadataHint(ILogger logger, Uri resource)
    {
        if (logger.IsEnabled(LogLevel.Warning)) { ForeignMetadataHint(logger, OAuthEndpoint.Describe(resource)); }
    }

    [LoggerMessage(10, LogLevel.Warning, "The resource rejected {Count} tokens in a row before accepting any; the next exchange waits {Backoff}.")]
    internal static partial void FreshTokenRejected(ILogger logger, int count, TimeSpan backoff);

    [LoggerMessage(11, LogLevel.Warning, "Tokens restored from the token cache belong to the authorization server {Issuer}, which this provider may not use; they were ignored.")]
    private static partial void RestoredTokensIgnored(ILogger logger, string issuer);

    internal static void RestoredTokensIgnored(ILogger logger, Uri issuer)
    {
        if (logger.IsEnabled(LogLevel.Warning)) { RestoredTokensIgnored(logger, OAuthEndpoint.Describe(issuer)); }
    }

    [LoggerMessage(12, LogLevel.Warning, "A background acquisition failed ({ExceptionType}, {Reason}); the cached value is kept while usable and the next caller retries.")]
    private static partial void BackgroundAcquisitionFailed(ILogger logger, Type exceptionType, OAuthFailureReason reason);

    [LoggerMessage(13, LogLevel.Debug, "An acquisition failed ({ExceptionType}, {Reason}); its waiters receive the error.")]
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

    [LoggerMessage(14, LogLevel.Warning, "The token endpoint {Endpoint} rejected the RFC 8707 resource parameter on refresh (AADSTS9010010); refreshing once more without it, and omitting it on later refreshes at this authorization server.")]
    private static partial void RefreshWithoutResource(ILogger logger, string endpoint);

    internal static void RefreshWithoutResource(ILogger logger, Uri endpoint)
    {
        if (logger.IsEnabled(LogLevel.Warning)) { RefreshWithoutResource(logger, OAuthEndpoint.Describe(endpoint)); }
    }
}
