using System.Net;

namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>
/// The authorization callback of the interop tests: a user agent without UI. It GETs the authorization URL without
/// following redirects (as the conformance client does), follows the authorization server's own redirects (with its
/// cookies: oidc-provider's interaction and session) and stops at the first redirect to the redirect URI, whose query
/// it returns. Counts how often the provider asked for an authorization.
/// </summary>
public sealed class HeadlessBrowser : IDisposable
{
    private const int MaxHops = 10;
    private readonly HttpClient _http;
    private int _authorizations;

    public HeadlessBrowser()
    {
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() })
        {
            Timeout = TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>How many times the provider called the callback (one per authorization).</summary>
    public int Authorizations => Volatile.Read(ref _authorizations);

    /// <summary>The authorization requests the provider made (the URLs it asked to open).</summary>
    public List<Uri> AuthorizationRequests { get; } = [];

    /// <summary>The redirects to the redirect URI, as received.</summary>
    public List<Uri> Redirects { get; } = [];

    /// <summary>Changes the result before the provider sees it (for example a forged <c>iss</c>).</summary>
    public Func<AuthorizationResult, AuthorizationResult>? Tamper { get; set; }

    public async Task<AuthorizationResult?> AuthorizeAsync(AuthorizationCallbackContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _authorizations);
        lock (AuthorizationRequests)
        {
            AuthorizationRequests.Add(context.AuthorizationUri);
        }

        var redirect = context.RedirectUri.GetLeftPart(UriPartial.Path);
        var uri = context.AuthorizationUri;
        for (var hop = 0; hop < MaxHops; hop++)
        {
            using var response = await _http.GetAsync(uri, cancellationToken);
            var location = response.Headers.Location;
            if ((int)response.StatusCode is < 300 or > 399 || location is null)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                throw new InvalidOperationException($"The authorization server answered {(int)response.StatusCode} at {uri.GetLeftPart(UriPartial.Path)} instead of redirecting: {body[..Math.Min(body.Length, 500)]}");
            }

            var next = location.IsAbsoluteUri ? location : new Uri(uri, location);
            if (next.GetLeftPart(UriPartial.Path) == redirect)
            {
                lock (Redirects)
                {
                    Redirects.Add(next);
                }

                var result = AuthorizationResult.FromRedirectUri(next);
                return Tamper is { } tamper ? tamper(result) : result;
            }

            if (!string.Equals(next.GetLeftPart(UriPartial.Authority), uri.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"The authorization server redirected to another origin: {next.GetLeftPart(UriPartial.Path)}");
            }

            uri = next;
        }

        throw new InvalidOperationException($"More than {MaxHops} redirects during the authorization.");
    }

    public void Dispose() => _http.Dispose();
}
