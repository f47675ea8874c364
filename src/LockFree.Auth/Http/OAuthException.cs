using System.Net;

namespace LockFree.Auth;

/// <summary>
/// A failure of an OAuth protocol exchange: an error response of an authorization server (RFC 6749 §5.2), an
/// unexpected HTTP status, a malformed, incomplete or oversized response, or an endpoint that may not be used.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Error"/>, <see cref="ErrorDescription"/> and <see cref="ErrorUri"/> carry what the server sent, when it
/// sent them; <see cref="Reason"/> classifies the failure so callers can act on it without parsing the message.
/// The message names the endpoint and the field or status involved; it never contains an access token, refresh
/// token, ID token, assertion or client secret, and server-provided text is reduced to the RFC 6749 character set
/// and truncated.
/// </para>
/// <para>Concurrency: immutable after construction; one instance may be delivered to many waiters of one exchange.</para>
/// </remarks>
public class OAuthException : Exception
{
    /// <summary>Creates an exception with a generic message.</summary>
    public OAuthException()
        : this("An OAuth request failed.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    public OAuthException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public OAuthException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with every field.</summary>
    /// <param name="message">A message without secrets.</param>
    /// <param name="reason">What went wrong.</param>
    /// <param name="endpoint">The endpoint involved, if any.</param>
    /// <param name="statusCode">The HTTP status of the response, if one was received.</param>
    /// <param name="error">The OAuth <c>error</c> code the server sent, if any.</param>
    /// <param name="errorDescription">The OAuth <c>error_description</c> the server sent, if any.</param>
    /// <param name="errorUri">The OAuth <c>error_uri</c> the server sent, if any.</param>
    /// <param name="innerException">The cause, if any.</param>
    public OAuthException(
        string message,
        OAuthFailureReason reason,
        Uri? endpoint = null,
        HttpStatusCode? statusCode = null,
        string? error = null,
        string? errorDescription = null,
        Uri? errorUri = null,
        Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
        Endpoint = endpoint;
        StatusCode = statusCode;
        Error = error;
        ErrorDescription = errorDescription;
        ErrorUri = errorUri;
    }

    /// <summary>Creates an exception that carries every field of <paramref name="source"/> with another message (for wrapping by a provider).</summary>
    /// <param name="message">A message without secrets.</param>
    /// <param name="source">The protocol failure being wrapped; it becomes the inner exception.</param>
    protected OAuthException(string message, OAuthException source)
        : base(message, source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Reason = source.Reason;
        Endpoint = source.Endpoint;
        StatusCode = source.StatusCode;
        Error = source.Error;
        ErrorDescription = source.ErrorDescription;
        ErrorUri = source.ErrorUri;
    }

    /// <summary>What went wrong.</summary>
    public OAuthFailureReason Reason { get; }

    /// <summary>The endpoint involved, if any (endpoints are not secret).</summary>
    public Uri? Endpoint { get; }

    /// <summary>The HTTP status of the response, if one was received.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The OAuth <c>error</c> code (for example <c>invalid_grant</c>), if the server sent one.</summary>
    public string? Error { get; }

    /// <summary>The OAuth <c>error_description</c>, if the server sent one (reduced to the RFC 6749 character set and truncated).</summary>
    public string? ErrorDescription { get; }

    /// <summary>The OAuth <c>error_uri</c>, if the server sent a valid absolute URI.</summary>
    public Uri? ErrorUri { get; }
}

/// <summary>Classifies an <see cref="OAuthException"/>.</summary>
public enum OAuthFailureReason
{
    /// <summary>Not classified.</summary>
    Unspecified = 0,

    /// <summary>The server answered with an OAuth error response (<see cref="OAuthException.Error"/> is set).</summary>
    ErrorResponse,

    /// <summary>The server answered with an unexpected HTTP status and no OAuth error.</summary>
    UnexpectedStatus,

    /// <summary>The response was not valid JSON, not a JSON object, or a field had the wrong type or was missing.</summary>
    MalformedResponse,

    /// <summary>The response body exceeded the configured maximum size.</summary>
    ResponseTooLarge,

    /// <summary>An endpoint was not an absolute HTTPS URI (plain HTTP is allowed only on loopback) or was otherwise unusable.</summary>
    InsecureEndpoint,

    /// <summary>Authorization server metadata named another issuer than the one asked for.</summary>
    IssuerMismatch,

    /// <summary>No discovery location returned usable metadata.</summary>
    MetadataNotFound,

    /// <summary>A token response had a token type (or issued token type) other than the one required.</summary>
    UnexpectedTokenType,

    /// <summary>The server could not be reached, the connection failed or the request timed out.</summary>
    Unreachable,

    /// <summary>No client authentication method could be agreed with the server, or the configured one is unknown.</summary>
    ClientAuthentication,

    /// <summary>The application supplied an unusable value (for example an empty ID token).</summary>
    InvalidInput,

    /// <summary>
    /// A metadata, registration or token endpoint answered with a redirect (or the back channel followed one). Redirects
    /// are never followed on the back channel: a credential must not reach a host it was not issued for.
    /// </summary>
    RedirectRefused,

    /// <summary>
    /// The protected resource named an authorization server this provider does not trust: not one of the configured
    /// trusted authorization servers, or not the one the resource used before (see <c>spec/security.md</c>). No
    /// credential was sent to it.
    /// </summary>
    UntrustedAuthorizationServer,

    /// <summary>The authorization server does not advertise PKCE with <c>S256</c>; the authorization code grant is refused.</summary>
    PkceNotSupported,

    /// <summary>A server-influenced value exceeded a documented bound (for example the accumulated scope set).</summary>
    LimitExceeded,

    /// <summary>
    /// The user did not complete the authorization in the browser before the configured timeout (for example the tab
    /// was closed); see <see cref="SystemBrowserAuthorizationOptions.Timeout"/>.
    /// </summary>
    AuthorizationTimedOut,

    /// <summary>
    /// The authorization request could not be shown to the user: the browser could not be opened, or the loopback
    /// redirect listener could not be started (for example its configured port was in use).
    /// </summary>
    UserAgentUnavailable,
}
