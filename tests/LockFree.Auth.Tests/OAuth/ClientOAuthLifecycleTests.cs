using System.Collections.Concurrent;
using System.Net;
using System.Text.RegularExpressions;
using LockFree.Auth.Testing.OAuth;
using Microsoft.Extensions.Logging;

namespace LockFree.Auth.Tests.OAuth;

/// <summary>Refresh-ahead, token cache, authorization-server changes, registration loss, bad input and logging.</summary>
public sealed partial class ClientOAuthLifecycleTests
{
    [Fact]
    public async Task SendAsync_InsideRefreshAheadWindow_ServesOldTokenWhileOneBackgroundRefreshRuns()
    {
        using var host = new OAuthTestHost();
        (await host.GetAsync().Within()).Dispose();
        var old = host.Provider.TryGetCachedEntry()!;

        host.Time.Advance(TimeSpan.FromSeconds(3600 - 100)); // inside the 2-minute refresh-ahead window, before the 30 s skew
        var gate = host.Server.HoldTokenEndpoint();
        using (var during = await host.GetAsync().Within())
        {
            Assert.Equal(HttpStatusCode.OK, during.StatusCode); // completed although the refresh is held
        }

        using (var alsoDuring = await host.GetAsync().Within())
        {
            Assert.Equal(HttpStatusCode.OK, alsoDuring.StatusCode);
        }

        Assert.Equal(1, host.Server.TokenArrivals);
        var background = host.Provider.ActiveCoordinator!.Current.Pending!.Task;
        gate.SetResult();
        var fresh = await background.Within();
        Assert.Same(fresh, host.Provider.TryGetCachedEntry());

        Assert.NotSame(old, fresh);
        Assert.Equal(1, host.Server.RefreshGrants);
        Assert.Equal(1, host.Prompts);
    }

    [Fact]
    public async Task TokenCache_ExpiredTokenWithRefreshToken_RefreshedWithoutPrompt()
    {
        var cache = new MemoryTokenCache();
        using var host = new OAuthTestHost(o => { o.ClientId = "public-app"; o.TokenCache = cache; });
        (await host.GetAsync().Within()).Dispose();
        Assert.Equal("rt-1", cache.Stored!.RefreshToken);
        host.Time.Advance(TimeSpan.FromHours(2));

        var prompts = 0;
        var options = new ClientOAuthOptions
        {
            ClientId = "public-app",
            TokenCache = cache,
            RedirectUri = host.Options.RedirectUri,
            AuthorizationCallbackHandler = (_, _) => { prompts++; return Task.FromResult<AuthorizationResult?>(null); },
        };
        using var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), options, host.BackChannel, null, host.Time);
        using var client = new HttpClient(new ClientOAuthHandler(provider, host.Server), disposeHandler: false);

        using var response = await client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, prompts);
        Assert.Equal(1, host.Server.RefreshGrants);
        Assert.Equal("rt-2", cache.Stored!.RefreshToken);
    }

    [Fact]
    public async Task TokenCacheWithRegistrations_Restart_ReusesRegisteredClientAndRefreshToken()
    {
        var cache = new MemoryTokenAndClientCache();
        using var host = new OAuthTestHost(o => o.TokenCache = cache, s => s.AuthMethodsSupported = ["client_secret_post"]);
        (await host.GetAsync().Within()).Dispose();
        Assert.Equal("dcr-client-1", cache.Registrations["https://auth.example.com"].ClientId);
        host.Time.Advance(TimeSpan.FromHours(2));

        var options = new ClientOAuthOptions
        {
            TokenCache = cache,
            RedirectUri = host.Options.RedirectUri,
            AuthorizationCallbackHandler = (_, _) => throw new InvalidOperationException("no prompt expected"),
        };
        using var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), options, host.BackChannel, null, host.Time);
        using var client = new HttpClient(new ClientOAuthHandler(provider, host.Server), disposeHandler: false);

        using var response = await client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, host.Server.Registrations);
        Assert.Equal(1, host.Server.RefreshGrants);
        Assert.Equal(host.Server.RegisteredSecret, host.Server.TokenEndpointRequests[^1].Form["client_secret"]);
    }

    [Fact]
    public async Task SendAsync_ResourceMovedToAnotherAuthorizationServer_RediscoversRegistersThereNoCredentialReuse()
    {
        using var host = new OAuthTestHost();
        (await host.GetAsync().Within()).Dispose();
        Assert.Equal("dcr-client-1", host.Server.AuthorizationRequests[0]["client_id"]);

        host.Server.Issuer = "https://auth2.example.com";
        host.Server.RevokeAllAccessTokens();
        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, host.Server.Registrations);
        Assert.Equal(0, host.Server.RefreshGrants); // AS1's refresh token never goes to AS2
        Assert.Equal("dcr-client-2", host.Server.AuthorizationRequests[1]["client_id"]);
        var toAs2 = host.Server.Requests.Where(r => r.Uri.Host == "auth2.example.com").ToList();
        Assert.NotEmpty(toAs2);
        Assert.DoesNotContain(toAs2, r => r.Body.Contains("dcr-client-1") || r.Uri.Query.Contains("dcr-client-1"));
    }

    [Fact]
    public async Task SendAsync_RegisteredClientForgotten_InvalidClientSurfacesThenRegistersAgain()
    {
        using var host = new OAuthTestHost(server: s => s.AuthMethodsSupported = ["client_secret_basic"]);
        (await host.GetAsync().Within()).Dispose();
        host.Server.Clients.Clear();
        host.Time.Advance(TimeSpan.FromHours(2));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());
        Assert.Equal("invalid_client", ex.Error);
        Assert.DoesNotContain(host.Server.RegisteredSecret, ex.ToString());

        using var response = await host.GetAsync().Within();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, host.Server.Registrations);
    }

    [Fact]
    public async Task SendAsync_OversizedResourceMetadata_ResponseTooLargeNoPrompt()
    {
        using var host = new OAuthTestHost(o => o.MaxResponseBytes = 512, s => s.PrmScopesSupported = Enumerable.Range(0, 100).Select(i => "scope-" + i).ToArray());

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal(OAuthFailureReason.ResponseTooLarge, ex.Reason);
        Assert.Equal(0, host.Prompts);
    }

    [Fact]
    public async Task SendAsync_AuthorizationServerOverPlainHttpOffLoopback_InsecureEndpointNoRequest()
    {
        using var host = new OAuthTestHost(server: s => s.Issuer = "http://auth.example.com");

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
        Assert.Equal(0, host.Server.AsMetadataRequests);
        Assert.Equal(0, host.Prompts);
    }

    [Fact]
    public async Task SendAsync_NonBearerTokenType_TypedErrorTokenNotUsed()
    {
        using var host = new OAuthTestHost(server: s => s.TokenType = "DPoP");

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal(OAuthFailureReason.UnexpectedTokenType, ex.Reason);
        Assert.Equal(1, host.Server.ResourceRequests); // only the first, unauthenticated request reached the resource
    }

    [Fact]
    public async Task SendAsync_MalformedResourceMetadata_TypedErrorNoPrompt()
    {
        using var host = new OAuthTestHost(server: s => s.PrmResourceOverride = "not a uri");

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal(OAuthFailureReason.MalformedResponse, ex.Reason);
        Assert.Equal(0, host.Prompts);
    }

    [Fact]
    public async Task Logs_FullFlowsAtTraceLevel_ContainNoSecret()
    {
        var logs = new CapturingLoggerFactory();
        using var host = new OAuthTestHost(server: s => s.AuthMethodsSupported = ["client_secret_post"]);
        using var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), host.Options, host.BackChannel, logs, host.Time);
        using var client = new HttpClient(new ClientOAuthHandler(provider, host.Server), disposeHandler: false);

        (await client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within()).Dispose();
        host.Time.Advance(TimeSpan.FromHours(2));
        (await client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within()).Dispose();

        Assert.NotEmpty(logs.Messages);
        foreach (var message in logs.Messages)
        {
            Assert.DoesNotMatch(SecretPattern(), message);
            Assert.DoesNotContain(host.Server.RegisteredSecret, message);
        }
    }

    [Fact]
    public async Task Handler_InnerHandlerSetByCaller_Works()
    {
        using var host = new OAuthTestHost();
        using var handler = new ClientOAuthHandler(host.Provider) { InnerHandler = host.Server };
        using var client = new HttpClient(handler, disposeHandler: false);

        using var response = await client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Handler_ValidToken_ReplacesCallerAuthorizationHeader()
    {
        using var host = new OAuthTestHost();
        (await host.GetAsync().Within()).Dispose();
        using var request = new HttpRequestMessage(HttpMethod.Get, FakeMcpAuthServer.ResourceUrl);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "caller-token");

        using var response = await host.Client.SendAsync(request).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("at-1", host.Server.Requests[^1].Authorization!.Parameter);
    }

    [GeneratedRegex(@"\b(at|rt|code)-\d+\b")]
    private static partial Regex SecretPattern();

    private sealed class MemoryTokenCache : ITokenCache
    {
        public TokenContainer? Stored { get; private set; }

        public ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct)
        {
            Stored = tokens;
            return ValueTask.CompletedTask;
        }

        public ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct) => ValueTask.FromResult(Stored);
    }

    private sealed class MemoryTokenAndClientCache : ITokenCache, IClientRegistrationCache
    {
        public TokenContainer? Stored { get; private set; }

        public ConcurrentDictionary<string, ClientRegistration> Registrations { get; } = new();

        public ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct)
        {
            Stored = tokens;
            return ValueTask.CompletedTask;
        }

        public ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct) => ValueTask.FromResult(Stored);

        public ValueTask StoreClientRegistrationAsync(string issuer, ClientRegistration registration, CancellationToken ct)
        {
            Registrations[issuer] = registration;
            return ValueTask.CompletedTask;
        }

        public ValueTask<ClientRegistration?> GetClientRegistrationAsync(string issuer, CancellationToken ct) =>
            ValueTask.FromResult(Registrations.TryGetValue(issuer, out var r) ? r : null);
    }

    private sealed class CapturingLoggerFactory : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider) { }

        public void Dispose() { }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Enqueue(formatter(state, exception) + (exception is null ? string.Empty : " " + exception));
    }
}
