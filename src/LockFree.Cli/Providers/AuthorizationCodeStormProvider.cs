using LockFree.Auth;
using LockFree.Cli.Storm;
using LockFree.Auth.OAuth;

namespace LockFree.Cli.Providers;

/// <summary>
/// <see cref="ClientOAuthProvider"/> with the authorization code grant (PKCE) behind <see cref="ClientOAuthHandler"/>,
/// signed in through <see cref="SystemBrowserAuthorization"/>: the embedded server's login page in the system browser
/// (or the printed URL with <c>--no-browser</c>), the redirect on an ephemeral loopback port. After the sign-in every
/// new token comes from the refresh token: the storm never asks the user again.
/// </summary>
internal sealed class AuthorizationCodeStormProvider : IStormProvider
{
    private readonly HttpClient _backChannel;
    private readonly ClientOAuthProvider _provider;

    public AuthorizationCodeStormProvider(Uri resource, string clientId, HttpMessageHandler backChannel, TimeProvider time, LoginSettings login)
    {
        _backChannel = new HttpClient(backChannel, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
        var browser = new SystemBrowserAuthorization(
            new SystemBrowserAuthorizationOptions { BrowserLauncher = login.Launcher, Timeout = login.Timeout },
            loggerFactory: null,
            time);
        var options = new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.AuthorizationCode,
            ClientId = clientId,
            RedirectUri = new Uri("http://127.0.0.1/callback"), // an ephemeral port per sign-in (RFC 8252 §7.3)
            AuthorizationCallbackHandler = browser.AuthorizeAsync,
        };
        _provider = new ClientOAuthProvider(resource, options, _backChannel, loggerFactory: null, timeProvider: time);
    }

    public string DisplayName => "ClientOAuthHandler (authorization code + PKCE, signed in through the browser, then refresh tokens)";

    public HttpMessageHandler CreateHandler(HttpMessageHandler wire) => new ClientOAuthHandler(_provider, wire);

    public async Task<SignIn?> SignInAsync(CancellationToken cancellationToken)
    {
        var tokens = await _provider.GetTokensAsync(cancellationToken);
        return new SignIn(tokens.Scope ?? string.Empty, tokens.RefreshToken is not null);
    }

    public void Dispose()
    {
        _provider.Dispose();
        _backChannel.Dispose();
    }
}
