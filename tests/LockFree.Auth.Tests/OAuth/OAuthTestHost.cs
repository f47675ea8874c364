using LockFree.Auth.Testing.OAuth;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.OAuth;

/// <summary>A provider + handler + HttpClient over one <see cref="FakeMcpAuthServer"/>, with a counting authorization callback.</summary>
internal sealed class OAuthTestHost : IDisposable
{
    private int _prompts;

    public OAuthTestHost(Action<ClientOAuthOptions>? configure = null, Action<FakeMcpAuthServer>? server = null, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Server = new FakeMcpAuthServer(Time);
        server?.Invoke(Server);
        Options = new ClientOAuthOptions
        {
            RedirectUri = new Uri("http://127.0.0.1:7777/callback"),
            AuthorizationCallbackHandler = async (context, ct) =>
            {
                Interlocked.Increment(ref _prompts);
                if (Prompt is { } prompt)
                {
                    return await prompt(context, ct).Within();
                }

                return Server.Authorize(context.AuthorizationUri);
            },
        };
        configure?.Invoke(Options);
        BackChannel = Server.CreateClient();
        Provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), Options, BackChannel, loggerFactory, Time);
        Client = new HttpClient(new ClientOAuthHandler(Provider, Server), disposeHandler: true);
    }

    public FakeTimeProvider Time { get; }
    public FakeMcpAuthServer Server { get; }
    public ClientOAuthOptions Options { get; }
    public HttpClient BackChannel { get; }
    public ClientOAuthProvider Provider { get; }
    public HttpClient Client { get; }

    /// <summary>Replaces the default callback behaviour (which visits the fake's authorization endpoint at once).</summary>
    public Func<AuthorizationCallbackContext, CancellationToken, Task<AuthorizationResult?>>? Prompt { get; set; }

    public int Prompts => Volatile.Read(ref _prompts);

    public Task<HttpResponseMessage> GetAsync(string path = "/mcp", CancellationToken ct = default) =>
        Client.GetAsync(FakeMcpAuthServer.ResourceOrigin + path, ct);

    public Task<HttpResponseMessage> PostAsync(string body, string path = "/mcp", CancellationToken ct = default) =>
        Client.PostAsync(FakeMcpAuthServer.ResourceOrigin + path, new StringContent(body), ct);

    public void Dispose()
    {
        Client.Dispose();
        Provider.Dispose();
        BackChannel.Dispose();
        Server.Dispose();
    }
}
