using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace LockFree.Auth.IntegrationTests;

/// <summary>The official MCP C# SDK client (HttpClientTransport) over an HttpClient built on ClientOAuthHandler.</summary>
public sealed class McpSdkEndToEndTests
{
    private static readonly Uri RedirectUri = new("http://127.0.0.1:1/callback");

    private static (ClientOAuthProvider Provider, HttpClient Mcp, HttpClient BackChannel) CreateClient(ProtectedMcpServer server)
    {
        var backChannel = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        var options = new ClientOAuthOptions
        {
            RedirectUri = RedirectUri,
            DynamicClientRegistration = new DynamicClientRegistrationOptions { ClientName = "LockFree.Auth integration test" },
            // A headless "browser": follow the authorization URL once and read the redirect's Location.
            AuthorizationCallbackHandler = async (context, ct) =>
            {
                using var response = await backChannel.GetAsync(context.AuthorizationUri, ct);
                return AuthorizationResult.FromRedirectUri(response.Headers.Location!);
            },
        };
        var provider = new ClientOAuthProvider(server.McpUrl, options, backChannel);
        var mcp = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));
        return (provider, mcp, backChannel);
    }

    private static Task<McpClient> ConnectAsync(ProtectedMcpServer server, HttpClient mcp) =>
        McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions { Endpoint = server.McpUrl, TransportMode = HttpTransportMode.StreamableHttp }, mcp, ownsHttpClient: false),
            new McpClientOptions { ClientInfo = new() { Name = "lockfree-integration", Version = "1.0.0" } });

    [Fact]
    public async Task McpClient_ProtectedServer_AuthorizesOnceAndCallsTool()
    {
        await using var server = await ProtectedMcpServer.StartAsync();
        var (provider, mcp, backChannel) = CreateClient(server);
        using var _1 = provider;
        using var _2 = mcp;
        using var _3 = backChannel;

        await using var client = await ConnectAsync(server, mcp);
        var tools = await client.ListToolsAsync();
        var result = await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "hello" });

        Assert.Contains(tools, t => t.Name == "echo");
        Assert.Equal("echo: hello", Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text);
        Assert.Equal(1, server.Authorizations);
        Assert.Equal(1, server.Registrations);
        Assert.Equal(1, server.CodeGrants);
        Assert.Equal(0, server.RefreshGrants);
    }

    [Fact]
    public async Task McpClient_TokenRevokedUnderConcurrentToolCalls_OneRefreshZeroInvalidGrant()
    {
        await using var server = await ProtectedMcpServer.StartAsync();
        var (provider, mcp, backChannel) = CreateClient(server);
        using var _1 = provider;
        using var _2 = mcp;
        using var _3 = backChannel;
        await using var client = await ConnectAsync(server, mcp);
        await client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "warm" });

        server.RevokeAllAccessTokens();
        var calls = Enumerable.Range(0, 16)
            .Select(i => client.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "m" + i }).AsTask())
            .ToArray();
        var results = await Task.WhenAll(calls);

        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal("echo: m" + i, Assert.IsType<TextContentBlock>(Assert.Single(results[i].Content)).Text);
        }

        Assert.Equal(1, server.RefreshGrants);
        Assert.Equal(0, server.InvalidGrants);
        Assert.Equal(1, server.Authorizations);
    }
}
