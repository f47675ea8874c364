using System.Net;

namespace LockFree.Auth.CrossAppAccess;

/// <summary>
/// The cross-app access flow failed: metadata discovery, the ID token callback, the RFC 8693 exchange at the
/// identity provider or the RFC 7523 grant at the authorization server. Carries the OAuth <see cref="OAuthException.Error"/>,
/// <see cref="OAuthException.ErrorDescription"/> and <see cref="OAuthException.ErrorUri"/> when a server sent them.
/// </summary>
/// <remarks>
/// <para>The message says which step failed and why; it never contains an ID token, ID-JAG, access token or secret.</para>
/// <para>Concurrency: immutable; the same instance is delivered to every waiter of the failed exchange.</para>
/// </remarks>
public class CrossApplicationAccessException : OAuthException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public CrossApplicationAccessException()
        : base("Cross-app access failed.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    public CrossApplicationAccessException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public CrossApplicationAccessException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with every field (see <see cref="OAuthException"/>).</summary>
    /// <param name="message">A message without secrets.</param>
    /// <param name="reason">What went wrong.</param>
    /// <param name="endpoint">The endpoint involved, if any.</param>
    /// <param name="statusCode">The HTTP status of the response, if one was received.</param>
    /// <param name="error">The OAuth <c>error</c> code, if any.</param>
    /// <param name="errorDescription">The OAuth <c>error_description</c>, if any.</param>
    /// <param name="errorUri">The OAuth <c>error_uri</c>, if any.</param>
    /// <param name="innerException">The cause, if any.</param>
    public CrossApplicationAccessException(
        string message,
        OAuthFailureReason reason,
        Uri? endpoint = null,
        HttpStatusCode? statusCode = null,
        string? error = null,
        string? errorDescription = null,
        Uri? errorUri = null,
        Exception? innerException = null)
        : base(message, reason, endpoint, statusCode, error, errorDescription, errorUri, innerException)
    {
    }

    /// <summary>Wraps a protocol failure of one step, keeping its OAuth fields; <paramref name="source"/> becomes the inner exception.</summary>
    /// <param name="message">A message without secrets.</param>
    /// <param name="source">The protocol failure.</param>
    public CrossApplicationAccessException(string message, OAuthException source)
        : base(message, source)
    {
    }
}
