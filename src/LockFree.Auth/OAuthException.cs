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
