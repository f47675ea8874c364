using Microsoft.Extensions.Logging;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// The log messages of <see cref="SystemBrowserAuthorization"/> (event IDs 100–109). None carries the code, the state,
/// the redirect's query or any token: the listener's address, counts, statuses and sanitized OAuth error codes only.
/// </summary>
internal static partial class SystemBrowserLog
{
    [LoggerMessage(100, LogLevel.Information, "Listening for the authorization redirect on {RedirectUri}.")]
    internal static partial void Listening(ILogger logger, Uri redirectUri);

    [LoggerMessage(101, LogLevel.Information, "Opening the browser for the authorization request to {Endpoint}.")]
    private static partial void OpeningBrowser(ILogger logger, string endpoint);

    internal static void OpeningBrowser(ILogger logger, Uri authorizationUri)
    {
        if (logger.IsEnabled(LogLevel.Information)) { OpeningBrowser(logger, OAuthEndpoint.Describe(new Uri(authorizationUri.GetLeftPart(UriPartial.Path)))); }
    }

    [LoggerMessage(102, LogLevel.Warning, "Ignored a redirect whose state does not match the authorization in progress (stale or forged); still waiting.")]
    internal static partial void StateMismatch(ILogger logger);

    [LoggerMessage(103, LogLevel.Information, "Authorization response received (code: {HasCode}, error: {Error}).")]
    internal static partial void ResponseReceived(ILogger logger, bool hasCode, string error);

    [LoggerMessage(104, LogLevel.Warning, "The authorization was not completed within {Timeout}; the listener was closed.")]
    internal static partial void TimedOut(ILogger logger, TimeSpan timeout);

    [LoggerMessage(105, LogLevel.Debug, "Answered a request to the loopback listener with HTTP {Status} ({Outcome}).")]
    internal static partial void Answered(ILogger logger, int status, string outcome);

    [LoggerMessage(106, LogLevel.Information, "Closed the loopback redirect listener on port {Port}.")]
    internal static partial void Closed(ILogger logger, int port);

    [LoggerMessage(107, LogLevel.Warning, "The redirect names another issuer than the authorization server the request went to (RFC 9207).")]
    internal static partial void IssuerMismatch(ILogger logger);

    [LoggerMessage(108, LogLevel.Debug, "Waiting for the previous authorization of this handler to end (one listener at a time).")]
    internal static partial void WaitingForPrevious(ILogger logger);
}
