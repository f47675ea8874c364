using System.Diagnostics;
using System.Net;
#if HAS_CLIENTOAUTH
using Microsoft.Extensions.Time.Testing;
#endif

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// The ClientOAuth refresh storm: N concurrent requests through <c>ClientOAuthHandler</c> find the token expired.
/// Only our side: 2.4.0's <c>ClientOAuthProvider</c> is not a public <c>DelegatingHandler</c> (it runs inside the
/// SDK's MCP transport), so it cannot be driven with plain HTTP requests in this process.
/// </summary>
internal static class ClientOAuthStorm
{
    public static bool IsAvailable =>
#if HAS_CLIENTOAUTH
        true;
#else
        false;
#endif

#if HAS_CLIENTOAUTH
    public static async Task WarmUpAsync(Side side)
    {
        EnsureOurs(side);
        for (var i = 0; i < 3; i++)
        {
            using var harness = new Harness(TimeSpan.Zero);
            await harness.AuthorizeAsync().ConfigureAwait(false);
            harness.Expire();
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => harness.SendAsync())).ConfigureAwait(false);
        }
    }

    /// <summary>Authorization code + PKCE once (1 s token with a refresh token); the clock jumps past expiry; N requests.</summary>
    public static async Task<StormResult> RefreshStormAsync(Side side, TimeSpan hop, int n)
    {
        EnsureOurs(side);
        using var harness = new Harness(hop);
        await harness.AuthorizeAsync().ConfigureAwait(false);
        harness.Expire();
        harness.Endpoints.ResetCounters();
        var start = Stopwatch.GetTimestamp();
        var requests = new Task<bool>[n];
        for (var i = 0; i < n; i++)
        {
            requests[i] = Task.Run(harness.SendAsync);
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
        var errors = requests.Count(t => !t.IsCompletedSuccessfully || !t.Result);
        return new StormResult(ms, harness.Endpoints.TokenGrants, harness.Endpoints.AcceptedTokens, errors);
    }

    private static void EnsureOurs(Side side)
    {
        if (side != Side.Ours)
        {
            throw new NotSupportedException("The ClientOAuth storm has no 2.4.0 side (see the class remarks).");
        }
    }

    private sealed class Harness : IDisposable
    {
        private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
        private readonly HttpClient _backChannel;
        private readonly ClientOAuthProvider _provider;
        private readonly HttpClient _client;

        public Harness(TimeSpan hop)
        {
            Endpoints = new SimulatedEndpoints(hop);
            _backChannel = new HttpClient(Endpoints, disposeHandler: false);
            _provider = new ClientOAuthProvider(
                new Uri(SimulatedEndpoints.ResourceUrl),
                new ClientOAuthOptions
                {
                    GrantType = OAuthGrantType.AuthorizationCode,
                    RedirectUri = new Uri("http://127.0.0.1:8765/callback"),
                    ClientId = "mcp-client",
                    TokenEndpointAuthMethod = "none",
                    AuthorizationCallbackHandler = static (context, _) => Task.FromResult<AuthorizationResult?>(Approve(context.AuthorizationUri)),
                },
                _backChannel,
                loggerFactory: null,
                timeProvider: _time);
            _client = new HttpClient(new ClientOAuthHandler(_provider, Endpoints), disposeHandler: false);
        }

        public SimulatedEndpoints Endpoints { get; }

        /// <summary>The first request: 401, discovery, authorization code + PKCE, a 1 s token with a refresh token.</summary>
        public async Task AuthorizeAsync()
        {
            Endpoints.TokenLifetimeSeconds = 1;
            if (!await SendAsync().ConfigureAwait(false))
            {
                throw new InvalidOperationException("The warm-up request was not authorized.");
            }

            Endpoints.TokenLifetimeSeconds = 3600;
        }

        /// <summary>Jumps the provider's clock past the token's expiry (its timer retires the token).</summary>
        public void Expire() => _time.Advance(TimeSpan.FromSeconds(2));

        public async Task<bool> SendAsync()
        {
            using var response = await _client.GetAsync(new Uri(SimulatedEndpoints.ResourceUrl)).ConfigureAwait(false);
            return response.StatusCode == HttpStatusCode.OK;
        }

        public void Dispose()
        {
            _client.Dispose();
            _provider.Dispose();
            _backChannel.Dispose();
            Endpoints.Dispose();
        }

        /// <summary>The simulated user approves at once: the code comes back with the request's state.</summary>
        private static AuthorizationResult Approve(Uri authorizationUri)
        {
            string? state = null;
            foreach (var pair in authorizationUri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && pair[..eq] == "state")
                {
                    state = Uri.UnescapeDataString(pair[(eq + 1)..]);
                }
            }

            return new AuthorizationResult { Code = "code-simulated", State = state, Iss = SimulatedEndpoints.Issuer };
        }
    }
#else
    public static Task WarmUpAsync(Side side) =>
        throw new NotSupportedException($"ClientOAuthHandler is not in this build ({side}).");

    public static Task<StormResult> RefreshStormAsync(Side side, TimeSpan hop, int n) =>
        throw new NotSupportedException($"ClientOAuthHandler is not in this build ({side}, {hop}, {n}).");
#endif
}
