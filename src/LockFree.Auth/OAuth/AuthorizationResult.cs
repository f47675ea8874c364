using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>The parameters of the authorization response (the redirect back to the client).</summary>
/// <remarks>
/// Concurrency: immutable. <see cref="Code"/> is a secret and is not part of <see cref="ToString"/>. An error response
/// (<see cref="Error"/> set) makes <see cref="ClientOAuthProvider"/> fail with an <see cref="OAuthException"/> whose
/// <see cref="OAuthException.Reason"/> is <see cref="OAuthFailureReason.ErrorResponse"/>, after it checked <c>state</c>.
/// </remarks>
public sealed class AuthorizationResult
{
    /// <summary>The authorization code (a secret).</summary>
    public string? Code { get; init; }

    /// <summary>The <c>state</c> parameter, checked against the one the provider sent.</summary>
    public string? State { get; init; }

    /// <summary>The RFC 9207 <c>iss</c> parameter, checked against the authorization server's issuer.</summary>
    public string? Iss { get; init; }

    /// <summary>The RFC 6749 §4.1.2.1 <c>error</c> code of an error response (for example <c>access_denied</c>), if any.</summary>
    public string? Error { get; init; }

    /// <summary>The <c>error_description</c> of an error response, if any (reduced to the RFC 6749 character set and truncated by <see cref="FromRedirectUri"/>).</summary>
    public string? ErrorDescription { get; init; }

    /// <summary>The <c>error_uri</c> of an error response, if it was a valid absolute URI.</summary>
    public Uri? ErrorUri { get; init; }

    /// <summary>
    /// The redirect URI the authorization request actually named, when the callback handler listened on another port
    /// of a loopback IP redirect URI than the configured one (RFC 8252 §7.3, an ephemeral port); the provider then
    /// sends this one in the token request. It may differ from the configured redirect URI only in the port, and only
    /// when the configured one is a loopback IP literal. <see langword="null"/>: the configured redirect URI.
    /// </summary>
    public Uri? RedirectUri { get; init; }

    /// <summary>Parses the query of a redirect URI (<c>code</c>, <c>state</c>, <c>iss</c>, <c>error</c>, <c>error_description</c>, <c>error_uri</c>).</summary>
    /// <param name="redirect">The URI the user agent was redirected to.</param>
    /// <returns>The parameters found (the first occurrence of each); error texts are sanitized.</returns>
    public static AuthorizationResult FromRedirectUri(Uri redirect)
    {
        ArgumentNullException.ThrowIfNull(redirect);
        string? code = null, state = null, iss = null, error = null, description = null, errorUri = null;
        foreach (var (name, value) in OAuthQuery.Parse(redirect.IsAbsoluteUri ? redirect.Query : null))
        {
            switch (name)
            {
                case "code": code ??= value; break;
                case "state": state ??= value; break;
                case "iss": iss ??= value; break;
                case "error": error ??= value; break;
                case "error_description": description ??= value; break;
                case "error_uri": errorUri ??= value; break;
            }
        }

        return new AuthorizationResult
        {
            Code = code,
            State = state,
            Iss = iss,
            Error = OAuthHttp.Sanitize(error),
            ErrorDescription = OAuthHttp.Sanitize(description),
            ErrorUri = Uri.TryCreate(errorUri, UriKind.Absolute, out var parsed) ? parsed : null,
        };
    }

    /// <summary>Describes the result without the code.</summary>
    public override string ToString() =>
        $"AuthorizationResult {{ Code = {(Code is null ? "(none)" : "[redacted]")}, HasState = {State is not null}, Iss = {Iss ?? "(none)"}, Error = {Error ?? "(none)"} }}";
}
