using LockFree.Auth.OAuth;
using ModelContextProtocol.Client;

namespace LockFree.Auth.BrowserTests.Readme;

/// <summary>
/// The README's first MCP example, compiled: the lines between the markers (and the two using directives above)
/// must equal the README's code block (<see cref="ReadmeQuickstartTests"/>).
/// </summary>
internal static class ReadmeQuickstart
{
    public static async Task RunAsync()
    {
        // README:BEGIN
        var serverUrl = new Uri("https://mcp.example.com/mcp");
        using var backChannel = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }); // metadata, registration, tokens
        using var provider = new ClientOAuthProvider(serverUrl, new ClientOAuthOptions
        {
            RedirectUri = new Uri("http://127.0.0.1/callback"),   // RFC 8252 loopback redirect: a new ephemeral port per sign-in
            ClientMetadataDocumentUri = new Uri("https://app.example.com/client-metadata.json"), // if the AS supports it
            DynamicClientRegistration = new() { ClientName = "My MCP client" },                    // else RFC 7591
            // Opens the system browser; the redirect comes back to a listener on 127.0.0.1 (state and iss checked first).
            AuthorizationCallbackHandler = new SystemBrowserAuthorization().AuthorizeAsync,
        }, backChannel);

        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));
        var transport = new HttpClientTransport(new() { Endpoint = serverUrl }, http, ownsHttpClient: false);
        await using var client = await McpClient.CreateAsync(transport);
        var tools = await client.ListToolsAsync();
        // README:END
    }
}
