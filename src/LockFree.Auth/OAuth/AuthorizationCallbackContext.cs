namespace LockFree.Auth.OAuth;

/// <summary>What the authorization callback needs to send the user to the authorization server.</summary>
/// <remarks>Concurrency: immutable.</remarks>
public sealed class AuthorizationCallbackContext
{
    /// <summary>The full authorization request URL (contains no secret: the PKCE verifier never leaves the provider).</summary>
    public required Uri AuthorizationUri { get; init; }

    /// <summary>The redirect URI the authorization server will send the user back to.</summary>
    public required Uri RedirectUri { get; init; }

    /// <summary>
    /// The <c>state</c> the authorization request carries: a redirect whose <c>state</c> differs is not the response to
    /// this request (check it before anything else). <see langword="null"/> when the creator of the context did not set it.
    /// </summary>
    public string? State { get; init; }

    /// <summary>
    /// The issuer identifier of the authorization server, exactly as its metadata spells it: an RFC 9207 <c>iss</c>
    /// on the redirect must equal it. <see langword="null"/> when not known.
    /// </summary>
    public string? Issuer { get; init; }

    /// <summary>Whether the authorization server advertises RFC 9207, so a redirect without <c>iss</c> must be rejected.</summary>
    public bool IssuerRequired { get; init; }
}
