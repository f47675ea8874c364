using System.Security.Cryptography;
using LockFree.Auth;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using ModelContextProtocol.Client;

namespace LockFree.Conformance.Client;

/// <summary>Maps a scenario to configuration and runs one MCP session through it.</summary>
internal sealed class ClientSetup : IAsyncDisposable
{
    /// <summary>
    /// The redirect URI of this native client (RFC 8252): SystemBrowserAuthorization listens on 127.0.0.1 with an
    /// ephemeral port per authorization, and the requests name that port.
    /// </summary>
    private static readonly Uri RedirectUri = new("http://127.0.0.1/callback");

    /// <summary>This client's ID metadata document URL: the one the suite expects (it cannot be fetched).</summary>
    private static readonly Uri ClientMetadataDocumentUri = new("https://conformance-test.local/client-metadata.json");

    private readonly ConformanceContext _context;
    private readonly ILoggerFactory _loggerFactory;
    private readonly HttpClient _backChannel;
    private readonly HttpClient _mcpHttp;
    private readonly IDisposable? _provider;

    private ClientSetup(ConformanceContext context, ILoggerFactory loggerFactory, HttpClient backChannel, HttpClient mcpHttp, IDisposable? provider)
    {
        _context = context;
        _loggerFactory = loggerFactory;
        _backChannel = backChannel;
        _mcpHttp = mcpHttp;
        _provider = provider;
    }

    public static ClientSetup Create(ConformanceContext context, ILoggerFactory loggerFactory)
    {
        var backChannel = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(10) };
        switch (context.Scenario)
        {
            case "auth/cross-app-access-complete-flow":
            case "auth/enterprise-managed-authorization":
            {
                // Enterprise-managed authorization (SEP-990): the user's ID token from the enterprise IdP is exchanged
                // for an ID-JAG, which the MCP server's authorization server exchanges for an access token. The
                // handler finds that authorization server in the server's protected resource metadata.
                var idToken = context.Require("idp_id_token");
                var provider = new CrossApplicationAccessProvider(
                    new CrossApplicationAccessProviderOptions
                    {
                        ClientId = context.Require("client_id"),
                        ClientSecret = context.Require("client_secret"),
                        IdpTokenEndpoint = context.Require("idp_token_endpoint"),
                        IdpClientId = context.Require("idp_client_id"),
                        IdTokenCallback = (_, _) => Task.FromResult(idToken),
                    },
                    backChannel,
                    loggerFactory);
                var mcpHttp = new HttpClient(new CrossApplicationAccessHandler(provider, context.ServerUrl, backChannel, new SocketsHttpHandler()));
                return new ClientSetup(context, loggerFactory, backChannel, mcpHttp, provider);
            }

            default:
            {
                var provider = new ClientOAuthProvider(context.ServerUrl, OAuthOptionsFor(context, loggerFactory), backChannel, loggerFactory);
                var mcpHttp = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));
                return new ClientSetup(context, loggerFactory, backChannel, mcpHttp, provider);
            }
        }
    }

    private static ClientOAuthOptions OAuthOptionsFor(ConformanceContext context, ILoggerFactory loggerFactory)
    {
        switch (context.Scenario)
        {
            case "auth/client-credentials-basic":
                return new ClientOAuthOptions
                {
                    GrantType = OAuthGrantType.ClientCredentials,
                    ClientId = context.Require("client_id"),
                    ClientSecret = context.Require("client_secret"),
                };

            case "auth/client-credentials-jwt":
                return new ClientOAuthOptions
                {
                    GrantType = OAuthGrantType.ClientCredentials,
                    ClientId = context.Require("client_id"),
                    ClientAssertionSigningCredentials = SigningCredentialsFromPem(
                        context.Require("private_key_pem"), context.Get("signing_algorithm") ?? SecurityAlgorithms.EcdsaSha256),
                };

            default:
                // Authorization code with PKCE. Pre-registered credentials when the scenario hands some out; otherwise
                // the library chooses between the client ID metadata document and dynamic registration.
                return new ClientOAuthOptions
                {
                    GrantType = OAuthGrantType.AuthorizationCode,
                    RedirectUri = RedirectUri,
                    ClientId = context.Get("client_id"),
                    ClientSecret = context.Get("client_secret"),
                    ClientMetadataDocumentUri = ClientMetadataDocumentUri,
                    DynamicClientRegistration = new DynamicClientRegistrationOptions { ClientName = "LockFree.Auth conformance client" },
                    // The library's own handler, as a desktop app would use it; only the "browser" is headless.
                    AuthorizationCallbackHandler = new SystemBrowserAuthorization(
                        new SystemBrowserAuthorizationOptions { BrowserLauncher = HeadlessBrowser.OpenAsync, Timeout = TimeSpan.FromSeconds(15) },
                        loggerFactory).AuthorizeAsync,
                };
        }
    }

    private static SigningCredentials SigningCredentialsFromPem(string pem, string algorithm)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(pem);
        return new SigningCredentials(new ECDsaSecurityKey(key), algorithm);
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var transport = new HttpClientTransport(
            new HttpClientTransportOptions { Endpoint = _context.ServerUrl, TransportMode = HttpTransportMode.StreamableHttp },
            _mcpHttp, _loggerFactory, ownsHttpClient: false);
        var options = new McpClientOptions
        {
            ClientInfo = new() { Name = "lockfree-conformance-client", Version = "1.0.0" },
            // The revision the runner's mock server speaks; 0.1.16 runners do not say, and serve 2025-11-25.
            ProtocolVersion = _context.ProtocolVersion ?? "2025-11-25",
            InitializationTimeout = TimeSpan.FromSeconds(15),
        };

        await using var client = await McpClient.CreateAsync(transport, options, _loggerFactory, cancellationToken).ConfigureAwait(false);
        var tools = await client.ListToolsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        Console.Error.WriteLine($"conformance: tools: {string.Join(", ", tools.Select(t => t.Name))}");
        if (tools.Count > 0)
        {
            // A tool call is an operation that may need more scope than listing (step-up).
            var result = await tools[0].CallAsync(new Dictionary<string, object?>(), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (result.IsError == true)
            {
                throw new InvalidOperationException($"Tool {tools[0].Name} returned an error.");
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _mcpHttp.Dispose();
        _provider?.Dispose();
        _backChannel.Dispose();
        return ValueTask.CompletedTask;
    }
}
