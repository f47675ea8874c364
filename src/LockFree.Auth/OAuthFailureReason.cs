namespace LockFree.Auth;

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
    /// was closed); see <see cref="OAuth.SystemBrowserAuthorizationOptions.Timeout"/>.
    /// </summary>
    AuthorizationTimedOut,

    /// <summary>
    /// The authorization request could not be shown to the user: the browser could not be opened, or the loopback
    /// redirect listener could not be started (for example its configured port was in use).
    /// </summary>
    UserAgentUnavailable,
}
