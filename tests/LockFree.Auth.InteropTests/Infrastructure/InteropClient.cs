namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>
/// One client of the resource as an application builds it: a <see cref="ClientOAuthProvider"/> whose back channel does
/// not follow redirects, a <see cref="ClientOAuthHandler"/> over a real <see cref="SocketsHttpHandler"/>, and the
/// <see cref="HeadlessBrowser"/> as authorization callback.
/// </summary>
public sealed class InteropClient : IDisposable
{
    private readonly HttpClient _backChannel = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(15) };

    public InteropClient(IAuthorizationServer server, Action<ClientOAuthOptions> configure)
    {
        Server = server;
        var options = new ClientOAuthOptions
        {
            RedirectUri = new Uri("http://127.0.0.1/callback"),
            AuthorizationCallbackHandler = Browser.AuthorizeAsync,
            BackChannelTimeout = TimeSpan.FromSeconds(15),
        };
        configure(options);
        Provider = new ClientOAuthProvider(server.Resource.Url, options, _backChannel);
        Http = new HttpClient(new ClientOAuthHandler(Provider, new SocketsHttpHandler { AllowAutoRedirect = false, MaxConnectionsPerServer = 256 }))
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public IAuthorizationServer Server { get; }

    public HeadlessBrowser Browser { get; } = new();

    public ClientOAuthProvider Provider { get; }

    public HttpClient Http { get; }

    /// <summary>A client of the authorization-code client <paramref name="clientId"/> (public, PKCE).</summary>
    public static InteropClient AuthorizationCode(IAuthorizationServer server, string clientId = "code-client", Action<ClientOAuthOptions>? configure = null) =>
        new(server, o =>
        {
            o.ClientId = clientId;
            o.TokenEndpointAuthMethod = "none";
            configure?.Invoke(o);
        });

    public Uri ResourcePath(string path = "") => new(Server.Resource.Url + path);

    /// <summary>Sends <paramref name="count"/> concurrent GETs to the resource and returns their status codes.</summary>
    public async Task<int[]> GetConcurrentlyAsync(int count, string path = "", CancellationToken cancellationToken = default)
    {
        using var start = new SemaphoreSlim(0);
        var tasks = Enumerable.Range(0, count).Select(async _ =>
        {
            await start.WaitAsync(cancellationToken);
            using var response = await Http.GetAsync(ResourcePath(path), cancellationToken);
            return (int)response.StatusCode;
        }).ToArray();
        start.Release(count);
        return await Task.WhenAll(tasks);
    }

    public void Dispose()
    {
        Http.Dispose();
        Provider.Dispose();
        Browser.Dispose();
        _backChannel.Dispose();
    }
}
