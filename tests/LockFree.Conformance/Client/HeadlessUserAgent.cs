using System.Net;
using System.Web;
using LockFree.Auth;

namespace LockFree.Conformance.Client;

/// <summary>
/// Plays the user and the browser for the authorization code grant: opens the authorization URL and, like a
/// loopback redirect listener, reads the authorization response from the redirect to <c>redirect_uri</c>. The
/// conformance suite's authorization endpoint grants without a login page, so this is the whole user step; every
/// protocol decision (state, iss, PKCE, what to do next) stays with <see cref="ClientOAuthProvider"/>.
/// </summary>
internal static class HeadlessUserAgent
{
    public static async Task<AuthorizationResult?> AuthorizeAsync(AuthorizationCallbackContext context, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false };
        using var browser = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await browser.GetAsync(context.AuthorizationUri, cancellationToken).ConfigureAwait(false);
        var location = response.Headers.Location;
        if (response.StatusCode is < HttpStatusCode.MultipleChoices or > (HttpStatusCode)399 || location is null)
        {
            throw new InvalidOperationException(
                $"The authorization endpoint answered {(int)response.StatusCode} instead of redirecting back to the client.");
        }

        if (!location.IsAbsoluteUri)
        {
            location = new Uri(context.AuthorizationUri, location);
        }

        // Only a redirect to our redirect URI reaches the client (it is what a loopback listener would receive).
        const UriComponents Target = UriComponents.SchemeAndServer | UriComponents.Path;
        if (Uri.Compare(location, context.RedirectUri, Target, UriFormat.UriEscaped, StringComparison.Ordinal) != 0)
        {
            throw new InvalidOperationException("The authorization endpoint redirected somewhere other than the redirect URI.");
        }

        var error = HttpUtility.ParseQueryString(location.Query)["error"];
        if (error is not null)
        {
            throw new InvalidOperationException($"The authorization server refused the authorization: {error}.");
        }

        return AuthorizationResult.FromRedirectUri(location);
    }
}
