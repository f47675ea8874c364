using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using Sdk = ModelContextProtocol.Authentication;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// The ClientOAuth refresh storm: an MCP client (the SDK's <c>McpClient</c> over <c>HttpClientTransport</c>, the
/// same on both sides) is authorized once with the authorization code grant (a 1 s token with a refresh token); the
/// token expires; N concurrent <c>ping</c> requests go out. 2.4.0 authorizes with the transport's built-in
/// <c>ClientOAuthProvider</c> (<c>HttpClientTransportOptions.OAuth</c>); ours with an <see cref="HttpClient"/> built
/// on <c>ClientOAuthHandler</c>. Measured: token grants (refreshes) and time until all N got their response.
/// </summary>
internal static class ClientOAuthStorm
{
    public static bool IsAvailable =>
#if HAS_CLIENTOAUTH
        true;
#else
        false;
#endif

    public static async Task WarmUpAsync(Side side)
    {
        await using var harness = await Harness.CreateAsync(side, TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
        await harness.ExpireAsync().ConfigureAwait(false);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => harness.PingAsync())).ConfigureAwait(false);
    }

    public static async Task<StormResult> RefreshStormAsync(Side side, TimeSpan hop, int n)
    {
        await using var harness = await Harness.CreateAsync(side, hop).ConfigureAwait(false);
        await harness.ExpireAsync().ConfigureAwait(false);
        harness.Endpoints.ResetCounters();
        var start = Stopwatch.GetTimestamp();
        var requests = new Task[n];
        for (var i = 0; i < n; i++)
        {
            requests[i] = Task.Run(harness.PingAsync);
        }

        try
        {
            await Task.WhenAll(requests).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Counted below.
        }

        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var errors = requests.Count(t => !t.IsCompletedSuccessfully);
        return new StormResult(ms, harness.Endpoints.TokenGrants, harness.Endpoints.AcceptedTokens, errors);
    }

    /// <summary>The simulated user approves at once: the code comes back with the request's state.</summary>
    private static string? StateOf(Uri authorizationUri)
    {
        foreach (var pair in authorizationUri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && pair[..eq] == "state")
            {
                return Uri.UnescapeDataString(pair[(eq + 1)..]);
            }
        }

        return null;
    }

    private abstract class Harness : IAsyncDisposable
    {
        protected static readonly Uri RedirectUri = new("http://127.0.0.1:8765/callback");
        private McpClient? _client;

        protected Harness(TimeSpan hop)
        {
            Endpoints = new SimulatedEndpoints(hop) { TokenLifetimeSeconds = 1 };
        }

        public SimulatedEndpoints Endpoints { get; }

        public static async Task<Harness> CreateAsync(Side side, TimeSpan hop)
        {
            Harness harness = side switch
            {
                Side.Sdk => new SdkHarness(hop),
#if HAS_CLIENTOAUTH
                Side.Ours => new OursHarness(hop),
#endif
                _ => throw new NotSupportedException($"No ClientOAuth harness for {side} in this build."),
            };

            // The first request is answered 401: discovery, authorization code + PKCE, a 1 s token with a refresh token.
            harness._client = await McpClient.CreateAsync(harness.CreateTransport()).ConfigureAwait(false);
            harness.Authorized = DateTimeOffset.UtcNow;
            harness.Endpoints.TokenLifetimeSeconds = 3600;
            return harness;
        }

        protected DateTimeOffset Authorized { get; private set; }

        public async Task PingAsync() => await _client!.PingAsync((RequestOptions?)null).ConfigureAwait(false);

        /// <summary>Makes the token expired (2.4.0 reads the system clock: wait; ours: jump the fake clock).</summary>
        public abstract Task ExpireAsync();

        public virtual async ValueTask DisposeAsync()
        {
            if (_client is not null)
            {
                await _client.DisposeAsync().ConfigureAwait(false);
            }

            Endpoints.Dispose();
        }

        protected abstract IClientTransport CreateTransport();

        protected static HttpClientTransportOptions TransportOptions() => new()
        {
            Endpoint = new Uri(SimulatedEndpoints.ResourceUrl),
            TransportMode = HttpTransportMode.StreamableHttp,
            EnableStandaloneGetStream = false,
            OwnsSession = false,
        };
    }

    private sealed class SdkHarness(TimeSpan hop) : Harness(hop)
    {
        private HttpClient? _http;

        public override async Task ExpireAsync()
        {
            var remaining = Authorized.AddMilliseconds(1060) - DateTimeOffset.UtcNow;
            if (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining).ConfigureAwait(false);
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync().ConfigureAwait(false);
            _http?.Dispose();
        }

        protected override IClientTransport CreateTransport()
        {
            _http = new HttpClient(Endpoints, disposeHandler: false);
            var options = TransportOptions();
            options.OAuth = new Sdk.ClientOAuthOptions
            {
                RedirectUri = RedirectUri,
                ClientId = "mcp-client",
                AuthorizationCallbackHandler = static (context, _) => Task.FromResult<Sdk.AuthorizationResult?>(
                    new Sdk.AuthorizationResult { Code = "code-simulated", State = StateOf(context.AuthorizationUri), Iss = SimulatedEndpoints.Issuer }),
            };
            return new HttpClientTransport(options, _http, loggerFactory: null, ownsHttpClient: false);
        }
    }

#if HAS_CLIENTOAUTH
    private sealed class OursHarness(TimeSpan hop) : Harness(hop)
    {
        private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
        private HttpClient? _backChannel;
        private ClientOAuthProvider? _provider;
        private HttpClient? _http;

        public override Task ExpireAsync()
        {
            _time.Advance(TimeSpan.FromSeconds(2));
            return Task.CompletedTask;
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync().ConfigureAwait(false);
            _http?.Dispose();
            _provider?.Dispose();
            _backChannel?.Dispose();
        }

        protected override IClientTransport CreateTransport()
        {
            _backChannel = new HttpClient(Endpoints, disposeHandler: false);
            _provider = new ClientOAuthProvider(
                new Uri(SimulatedEndpoints.ResourceUrl),
                new ClientOAuthOptions
                {
                    GrantType = OAuthGrantType.AuthorizationCode,
                    RedirectUri = RedirectUri,
                    ClientId = "mcp-client",
                    TokenEndpointAuthMethod = "none",
                    AuthorizationCallbackHandler = static (context, _) => Task.FromResult<AuthorizationResult?>(
                        new AuthorizationResult { Code = "code-simulated", State = StateOf(context.AuthorizationUri), Iss = SimulatedEndpoints.Issuer }),
                },
                _backChannel,
                loggerFactory: null,
                timeProvider: _time);
            _http = new HttpClient(new ClientOAuthHandler(_provider, Endpoints), disposeHandler: false);
            return new HttpClientTransport(TransportOptions(), _http, loggerFactory: null, ownsHttpClient: false);
        }
    }
#endif
}
