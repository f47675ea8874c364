using System.Net;

namespace LockFree.Conformance.Client;

/// <summary>
/// The browser of a headless run, used as <see cref="LockFree.Auth.OAuth.SystemBrowserAuthorizationOptions.BrowserLauncher"/>:
/// the conformance suite's authorization endpoint answers at once with a redirect (no login page), so "the user" is
/// one GET of the authorization URL (redirects not followed) and one GET of the <c>Location</c> it names — the
/// loopback redirect that <see cref="LockFree.Auth.OAuth.SystemBrowserAuthorization"/>'s listener receives and judges
/// (state, iss, error, code) exactly as it would from a real browser.
/// </summary>
internal static class HeadlessBrowser
{
    public static async Task OpenAsync(Uri authorizationUri, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, UseProxy = false };
        using var browser = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await browser.GetAsync(authorizationUri, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is < HttpStatusCode.MultipleChoices or > (HttpStatusCode)399 || response.Headers.Location is not { } location)
        {
            throw new InvalidOperationException(
                $"The authorization endpoint answered {(int)response.StatusCode} instead of redirecting back to the client.");
        }

        // Like a browser: follow the redirect wherever it points; only the loopback listener can complete the sign-in.
        using var callback = await browser.GetAsync(location.IsAbsoluteUri ? location : new Uri(authorizationUri, location), cancellationToken).ConfigureAwait(false);
        Console.Error.WriteLine($"conformance: the loopback listener answered HTTP {(int)callback.StatusCode}");
    }
}
