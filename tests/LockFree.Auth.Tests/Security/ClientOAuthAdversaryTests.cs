using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.Security;

/// <summary>
/// The MCP OAuth client against real servers on two origins: A (the configured MCP server and its authorization server)
/// and B (another host). Each test asserts what B received and what the caller got. Rules: <c>spec/security.md</c>.
/// </summary>
public sealed class ClientOAuthAdversaryTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    private static ClientOAuthProvider ClientCredentials(TwoOrigins w, HttpClient backChannel, Action<ClientOAuthOptions>? configure = null, TimeProvider? time = null)
    {
        var options = new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = TwoOrigins.ClientId,
            ClientSecret = TwoOrigins.ClientSecret,
        };
        configure?.Invoke(options);
        return new ClientOAuthProvider(w.McpUrl, options, backChannel, null, time);
    }

    private static ClientOAuthProvider AuthorizationCode(TwoOrigins w, HttpClient backChannel, Action<ClientOAuthOptions>? configure = null, Func<int>? onPrompt = null, TimeProvider? time = null)
    {
        var options = new ClientOAuthOptions
        {
            RedirectUri = new Uri("http://127.0.0.1:1/callback"),
            DynamicClientRegistration = new() { ClientName = "adversary tests" },
            AuthorizationCallbackHandler = async (context, ct) =>
            {
                onPrompt?.Invoke();
                return await LoopbackAuthorizationServer.AuthorizeAsync(context.AuthorizationUri);
            },
        };
        configure?.Invoke(options);
        return new ClientOAuthProvider(w.McpUrl, options, backChannel, null, time);
    }

    private static void ServeA(TwoOrigins w)
    {
        w.AsA.Serve();
        TwoOrigins.ServeResource(w.A, () => w.AsA.Issuer, w.AsA);
    }

    [Fact]
    public async Task Handler_ResourceRedirectsToAnotherOrigin_NoTokenAndNoChallengeHandlingThere()
    {
        await using var w = await TwoOrigins.StartAsync();
        ServeA(w);
        w.A.Map("/mcp/moved", (context, _) => LoopbackOrigin.RedirectAsync(context, w.B.Url("/mcp"), 307));
        w.B.Map("/mcp", (context, _) => LoopbackOrigin.ChallengeAsync(context, $"Bearer resource_metadata=\"{w.B.Origin}/prm\""));
        using var backChannel = new HttpClient();
        using var provider = ClientCredentials(w, backChannel);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));
        await TwoOrigins.ExpectAsync(http, w.McpUrl);

        using var moved = await http.GetAsync(w.A.Url("/mcp/moved")).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.Unauthorized, moved.StatusCode); // B's own answer, returned as is
        Assert.Single(w.B.RequestsTo("/mcp"));
        w.B.AssertNoAuthorizationHeader();
        w.B.AssertReceivedNone(("access token", "A-at-"), ("client secret", TwoOrigins.ClientSecret));
        Assert.Empty(w.B.RequestsTo("/prm"));
        Assert.Equal(1, w.AsA.TokenRequests);
    }

    [Fact]
    public async Task Handler_RequestToAnotherOrigin_PassesThroughUntouched()
    {
        await using var w = await TwoOrigins.StartAsync();
        ServeA(w);
        w.B.Map("/unrelated", (context, _) => LoopbackOrigin.ChallengeAsync(context, $"Bearer resource_metadata=\"{w.B.Origin}/prm\""));
        using var backChannel = new HttpClient();
        using var provider = ClientCredentials(w, backChannel);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));
        await TwoOrigins.ExpectAsync(http, w.McpUrl);

        using var other = await http.GetAsync(w.B.Url("/unrelated")).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
        w.B.AssertNoAuthorizationHeader();
        Assert.Single(w.B.Requests); // the request itself: no discovery, no replay
        Assert.Equal(1, w.AsA.TokenRequests);
    }

    [Fact]
    public async Task Challenge_HintOnAnotherOriginNamingItsOwnServer_IgnoredAndSecretStaysHome()
    {
        await using var w = await TwoOrigins.StartAsync();
        w.AsA.Serve();
        w.AsB.Serve();
        TwoOrigins.ServeResource(w.A, () => w.AsA.Issuer, w.AsA);
        w.A.Map("/mcp", (context, request) =>
            request.Authorization is { } auth && w.AsA.Accepts(auth[7..])
                ? LoopbackOrigin.WriteJsonAsync(context, new { ok = true })
                : LoopbackOrigin.ChallengeAsync(context, $"Bearer resource_metadata=\"{w.B.Origin}/prm\""));
        w.B.MapJson("/prm", new Dictionary<string, object> { ["resource"] = w.McpUrl.AbsoluteUri, ["authorization_servers"] = new[] { w.AsB.Issuer } });
        using var backChannel = new HttpClient();
        using var provider = ClientCredentials(w, backChannel);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));

        using var response = await http.GetAsync(w.McpUrl).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(w.B.Requests); // not even the metadata: a hint elsewhere is never fetched
        Assert.Equal(1, w.AsA.TokenRequests);
    }

    [Fact]
    public async Task PreRegisteredCredentials_ResourceSwitchesToAnotherServer_UntrustedAndNothingSent()
    {
        await using var w = await TwoOrigins.StartAsync();
        w.ServeBoth();
        using var backChannel = new HttpClient();
        using var provider = ClientCredentials(w, backChannel);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));
        await TwoOrigins.ExpectAsync(http, w.McpUrl);

        w.NamedAuthorizationServer = w.AsB.Issuer;
        w.AsA.ResourceAcceptsTokens = false;
        var ex = await Assert.ThrowsAsync<OAuthException>(() => http.GetAsync(w.McpUrl).WaitAsync(Bound));

        Assert.Equal(OAuthFailureReason.UntrustedAuthorizationServer, ex.Reason);
        Assert.Empty(w.B.Requests);
        Assert.DoesNotContain(TwoOrigins.ClientSecret, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrustedServersConfigured_ResourceNamesAnother_UntrustedBeforeAnyRequestToIt()
    {
        await using var w = await TwoOrigins.StartAsync();
        w.AsB.Serve();
        TwoOrigins.ServeResource(w.A, () => w.AsB.Issuer, w.AsB);
        using var backChannel = new HttpClient();
        using var provider = AuthorizationCode(w, backChannel, o => o.TrustedAuthorizationServers = [new Uri(w.AsA.Issuer)]);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => http.GetAsync(w.McpUrl).WaitAsync(Bound));

        Assert.Equal(OAuthFailureReason.UntrustedAuthorizationServer, ex.Reason);
        Assert.Empty(w.B.Requests);
    }

    [Fact]
    public async Task DynamicClient_ResourceMigratesToAnotherServer_NoRegistrationOrRefreshTokenOfTheFirstCrosses()
    {
        await using var w = await TwoOrigins.StartAsync();
        w.ServeBoth();
        using var backChannel = new HttpClient();
        using var provider = AuthorizationCode(w, backChannel);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));
        await TwoOrigins.ExpectAsync(http, w.McpUrl);

        // SEP-2352: the resource's own metadata now names B; A's tokens are rejected.
        w.NamedAuthorizationServer = w.AsB.Issuer;
        w.AsA.ResourceAcceptsTokens = false;
        using var after = await http.GetAsync(w.McpUrl).WaitAsync(Bound);

        Assert.Equal(1, w.AsB.Registrations);
        w.B.AssertReceivedNone(("A's refresh token", "A-rt-"), ("A's client", "A-registered"), ("A's access token", "A-at-"), ("A's code", "A-code-"));
        Assert.All(w.B.RequestsTo("/token"), r => Assert.DoesNotContain("grant_type=refresh_token", r.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RestoredRefreshTokenWithoutIssuer_ResourceNamesAnotherServer_NeverSentThere()
    {
        await using var w = await TwoOrigins.StartAsync();
        w.AsA.Serve();
        w.AsB.Serve();
        TwoOrigins.ServeResource(w.A, () => w.AsB.Issuer, w.AsB);
        var seeded = w.AsA.IssueRefreshToken();
        var cache = new MemoryTokenCache(new TokenContainer { AccessToken = "A-expired", RefreshToken = seeded, ObtainedAt = DateTimeOffset.UnixEpoch, ExpiresIn = TimeSpan.FromSeconds(1) });
        using var backChannel = new HttpClient();
        using var provider = AuthorizationCode(w, backChannel, o => o.TokenCache = cache);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));

        using var response = await http.GetAsync(w.McpUrl).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        w.B.AssertReceivedNone(("restored refresh token", seeded), ("restored access token", "A-expired"));
        Assert.Equal(w.AsB.Issuer, cache.Stored?.Issuer);
    }

    [Fact]
    public async Task RestoredTokensOfAnUntrustedIssuer_Ignored()
    {
        await using var w = await TwoOrigins.StartAsync();
        ServeA(w);
        var cache = new MemoryTokenCache(new TokenContainer { AccessToken = "B-at-foreign", RefreshToken = "B-rt-foreign", Issuer = "http://127.0.0.2:1", ObtainedAt = DateTimeOffset.UnixEpoch });
        using var backChannel = new HttpClient();
        using var provider = ClientCredentials(w, backChannel, o => { o.TokenCache = cache; o.TrustedAuthorizationServers = [new Uri(w.AsA.Issuer)]; });
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));

        using var response = await http.GetAsync(w.McpUrl).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        w.A.AssertReceivedNone(("foreign access token", "B-at-foreign"), ("foreign refresh token", "B-rt-foreign"));
    }

    [Fact]
    public async Task LegacyDiscovery_SelfNamedIssuerOnAnotherHost_RejectedBeforeRegistrationCacheOrSecret()
    {
        await using var w = await TwoOrigins.StartAsync();
        const string GoodIssuer = "https://login.good.example";
        w.A.MapJson("/.well-known/oauth-authorization-server", new Dictionary<string, object>
        {
            ["issuer"] = GoodIssuer,
            ["authorization_endpoint"] = w.B.Origin + "/authorize",
            ["token_endpoint"] = w.B.Origin + "/token",
            ["registration_endpoint"] = w.B.Origin + "/register",
            ["code_challenge_methods_supported"] = new[] { "S256" },
        });
        w.A.Map("/mcp", (context, _) => LoopbackOrigin.ChallengeAsync(context, "Bearer"));
        w.AsB.Serve();
        var cache = new MemoryTokenCache(null);
        cache.Registrations[GoodIssuer] = new ClientRegistration("good-client", "good-client-secret", "client_secret_post");
        using var backChannel = new HttpClient();
        using var provider = AuthorizationCode(w, backChannel, o => o.TokenCache = cache);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => http.GetAsync(w.McpUrl).WaitAsync(Bound));

        Assert.Equal(OAuthFailureReason.IssuerMismatch, ex.Reason);
        Assert.Empty(w.B.Requests);
        Assert.Equal(0, cache.RegistrationReads);
    }

    [Fact]
    public async Task AuthorizationCode_ServerWithoutS256_PkceNotSupportedAndNoPrompt()
    {
        await using var w = await TwoOrigins.StartAsync();
        ServeA(w);
        w.AsA.CodeChallengeMethods = null;
        var prompts = 0;
        using var backChannel = new HttpClient();
        using var provider = AuthorizationCode(w, backChannel, onPrompt: () => Interlocked.Increment(ref prompts));
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => http.GetAsync(w.McpUrl).WaitAsync(Bound));

        Assert.Equal(OAuthFailureReason.PkceNotSupported, ex.Reason);
        Assert.Equal(0, Volatile.Read(ref prompts));
        Assert.Empty(w.A.RequestsTo("/authorize"));
        Assert.Empty(w.A.RequestsTo("/register"));
    }

    [Fact]
    public async Task ResourceRejectsEveryFreshToken_OneExchangePerBackoffWindow()
    {
        await using var w = await TwoOrigins.StartAsync();
        ServeA(w);
        w.AsA.ResourceAcceptsTokens = false;
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var backChannel = new HttpClient();
        using var provider = ClientCredentials(w, backChannel, time: time);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));

        for (var i = 0; i < 20; i++)
        {
            using var response = await http.GetAsync(w.McpUrl).WaitAsync(Bound);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        Assert.Equal(2, w.AsA.TokenRequests); // the first token, and one exchange after its rejection; then the back-off
        time.Advance(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 5; i++)
        {
            using var response = await http.GetAsync(w.McpUrl).WaitAsync(Bound);
        }

        Assert.Equal(3, w.AsA.TokenRequests); // one more after 1 s, then 2 s, 4 s, … up to 5 minutes

        w.AsA.ResourceAcceptsTokens = true;
        time.Advance(TimeSpan.FromSeconds(2));
        using (var accepted = await http.GetAsync(w.McpUrl).WaitAsync(Bound))
        {
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        }
    }

    [Fact]
    public async Task ResourceRejectsEveryFreshToken_InteractivePromptNotRepeatedPerRequest()
    {
        await using var w = await TwoOrigins.StartAsync();
        ServeA(w);
        w.AsA.ResourceAcceptsTokens = false;
        var prompts = 0;
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var backChannel = new HttpClient();
        using var provider = AuthorizationCode(w, backChannel, onPrompt: () => Interlocked.Increment(ref prompts), time: time);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));

        for (var i = 0; i < 20; i++)
        {
            using var response = await http.GetAsync(w.McpUrl).WaitAsync(Bound);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        Assert.Equal(1, Volatile.Read(ref prompts)); // the second token came from a refresh, then the back-off
        Assert.Equal(2, w.AsA.TokenRequests);
    }

    [Fact]
    public async Task Handler_MalformedChallenge_The401IsReturnedAndReplacedResponsesAreDisposed()
    {
        await using var w = await TwoOrigins.StartAsync();
        ServeA(w);
        w.A.Map("/mcp", (context, request) =>
            request.Authorization is { } auth && w.AsA.Accepts(auth[7..])
                ? LoopbackOrigin.WriteJsonAsync(context, new { ok = true })
                : LoopbackOrigin.ChallengeAsync(context, "Bearer resource_metadata=\"unterminated, realm=="));
        using var backChannel = new HttpClient();
        using var provider = ClientCredentials(w, backChannel);
        var tracking = new ResponseTrackingHandler(new SocketsHttpHandler());
        using var http = new HttpClient(new ClientOAuthHandler(provider, tracking));

        using var response = await http.GetAsync(w.McpUrl).WaitAsync(Bound);

        // The malformed challenge still means "authorize": discovery falls back to the well-known locations.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Collection(
            tracking.Responses,
            first => Assert.True(first.Status == HttpStatusCode.Unauthorized && first.IsDisposed, "the replaced 401 was not disposed"),
            last => Assert.False(last.IsDisposed));
    }

    [Fact]
    public async Task Dispose_LaterCallsFailWithObjectDisposedAndSendNothing()
    {
        await using var w = await TwoOrigins.StartAsync();
        ServeA(w);
        using var backChannel = new HttpClient();
        var provider = ClientCredentials(w, backChannel);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));
        provider.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => provider.GetTokensAsync().WaitAsync(Bound));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => http.GetAsync(w.McpUrl).WaitAsync(Bound));
        Assert.Empty(w.A.Requests);
    }

    [Fact]
    public async Task Challenge_ScopeStepUpBeyondTheBound_LimitExceededAndBoundedExchanges()
    {
        await using var w = await TwoOrigins.StartAsync();
        w.AsA.Serve();
        TwoOrigins.ServeResource(w.A, () => w.AsA.Issuer, w.AsA);
        var n = 0;
        w.A.Map("/mcp", (context, request) =>
            request.Authorization is null
                ? LoopbackOrigin.ChallengeAsync(context, $"Bearer resource_metadata=\"{w.A.Origin}/.well-known/oauth-protected-resource/mcp\"")
                : LoopbackOrigin.ChallengeAsync(context, $"Bearer error=\"insufficient_scope\", scope=\"s{Interlocked.Increment(ref n)}\"", 403));
        using var backChannel = new HttpClient();
        using var provider = ClientCredentials(w, backChannel);
        using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));

        OAuthException? limit = null;
        for (var i = 0; i < 200 && limit is null; i++)
        {
            try
            {
                using var response = await http.GetAsync(w.McpUrl).WaitAsync(Bound);
            }
            catch (OAuthException ex)
            {
                limit = ex;
            }
        }

        Assert.NotNull(limit);
        Assert.Equal(OAuthFailureReason.LimitExceeded, limit.Reason);
        Assert.True(provider.CurrentScopes.Count <= ScopeSet.MaxScopes, $"{provider.CurrentScopes.Count} scopes accumulated");
        Assert.True(w.AsA.TokenRequests <= ScopeSet.MaxScopes + 1, $"{w.AsA.TokenRequests} exchanges");
    }
}

/// <summary>An in-memory <see cref="ITokenCache"/> and <see cref="IClientRegistrationCache"/> that counts its reads.</summary>
internal sealed class MemoryTokenCache(TokenContainer? initial) : ITokenCache, IClientRegistrationCache
{
    private TokenContainer? _tokens = initial;
    private int _registrationReads;

    public Dictionary<string, ClientRegistration> Registrations { get; } = new(StringComparer.Ordinal);

    public TokenContainer? Stored => Volatile.Read(ref _tokens);

    public int RegistrationReads => Volatile.Read(ref _registrationReads);

    public ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct)
    {
        Volatile.Write(ref _tokens, tokens);
        return ValueTask.CompletedTask;
    }

    public ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct) => ValueTask.FromResult(Volatile.Read(ref _tokens));

    public ValueTask StoreClientRegistrationAsync(string issuer, ClientRegistration registration, CancellationToken ct)
    {
        lock (Registrations)
        {
            Registrations[issuer] = registration;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<ClientRegistration?> GetClientRegistrationAsync(string issuer, CancellationToken ct)
    {
        Interlocked.Increment(ref _registrationReads);
        lock (Registrations)
        {
            return ValueTask.FromResult(Registrations.GetValueOrDefault(issuer));
        }
    }
}
