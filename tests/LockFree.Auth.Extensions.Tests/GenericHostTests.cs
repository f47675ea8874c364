using System.Net;
using LockFree.Auth.ClientCredentials;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Extensions.Tests;

/// <summary>
/// Issue 14's definition of done, in a generic host with IHttpClientFactory clients against a real loopback Kestrel
/// token endpoint and API, options bound from (in-memory) configuration: 256 concurrent requests cold → one exchange;
/// after expiry → one more; handler rotation → none; a rejected token → one replacement; a misconfigured client fails
/// the host's start with a message that names the configuration key.
/// </summary>
public sealed class GenericHostTests
{
    private const int Requests = 256;
    private const string Section = "LockFree:Clients:billing";
    private const string Api = "billing-api";

    [Fact]
    public async Task ColdStart_256ConcurrentRequests_OneExchange()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        using var host = BuildHost(authority, new FakeTimeProvider(Start));
        await host.StartAsync().Within();

        await StormAsync(host, authority, Requests);

        Assert.Equal(1, authority.Exchanges);
        Assert.Equal(Requests, authority.ApiCalls);
        await host.StopAsync().Within();
    }

    [Fact]
    public async Task AfterExpiry_256ConcurrentRequests_OneMoreExchange()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        var time = new FakeTimeProvider(Start);
        using var host = BuildHost(authority, time);
        await host.StartAsync().Within();
        await SendAsync(host);
        Assert.Equal(1, authority.Exchanges);

        // The container's TimeProvider drives expiry: the token's lifetime (3600 s) passes.
        time.Advance(TimeSpan.FromSeconds(authority.ExpiresIn));
        await StormAsync(host, authority, Requests);

        Assert.Equal(2, authority.Exchanges);
        await host.StopAsync().Within();
    }

    [Fact]
    public async Task HandlerRotation_NoExtraExchange()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        var chains = 0;
        using var host = BuildHost(authority, new FakeTimeProvider(Start), configureApi: api => api
            // IHttpClientFactory's handler lifetime is wall-clock and not injectable; 1 s is its minimum.
            .SetHandlerLifetime(TimeSpan.FromSeconds(1))
            .AddHttpMessageHandler(() =>
            {
                Interlocked.Increment(ref chains);
                return new PassThroughHandler();
            }));
        await host.StartAsync().Within();

        await SendAsync(host);
        Assert.Equal(1, Volatile.Read(ref chains));

        // New clients until the factory has built two more handler chains (each with a new token handler).
        await RepeatUntilAsync(() => SendAsync(host), () => Volatile.Read(ref chains) >= 3).Within();

        // A second named client with its own handler chain shares the same client's tokens.
        using (var other = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("billing-api-2"))
        using (var response = await other.GetAsync(new Uri("/api/data", UriKind.Relative)).Within())
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(1, authority.Exchanges);
        await host.StopAsync().Within();
    }

    [Fact]
    public async Task RejectedToken_ConcurrentRequests_OneReplacementExchange()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        using var host = BuildHost(authority, new FakeTimeProvider(Start));
        await host.StartAsync().Within();
        await SendAsync(host);

        authority.RevokeAll();
        var statuses = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() => SendAsync(host)))).Within();

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(2, authority.Exchanges);
        await host.StopAsync().Within();
    }

    [Fact]
    public async Task Authority_DiscoveredOnceThroughTheBackChannel()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        using var host = BuildHost(authority, new FakeTimeProvider(Start), settings: s =>
        {
            s.Remove($"{Section}:TokenEndpoint");
            s[$"{Section}:Authority"] = authority.Origin;
        });
        await host.StartAsync().Within();

        await StormAsync(host, authority, 32);

        Assert.Equal(1, authority.MetadataRequests);
        Assert.Equal(1, authority.Exchanges);
        await host.StopAsync().Within();
    }

    [Theory]
    [InlineData("TokenEndpoint", "LockFree:Clients:billing:TokenEndpoint or LockFree:Clients:billing:Authority is required.")]
    [InlineData("ClientId", "LockFree:Clients:billing:ClientId is required.")]
    [InlineData("ClientSecret", "LockFree:Clients:billing:ClientSecret is required for client_secret_basic.")]
    public async Task Misconfiguration_StartFails_NamingTheConfigurationKey(string missing, string expected)
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        using var host = BuildHost(authority, new FakeTimeProvider(Start), settings: s => s.Remove($"{Section}:{missing}"));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Equal("billing", error.OptionsName);
        Assert.Contains(expected, error.Failures);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(LoopbackAuthority.ClientSecret, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, authority.Exchanges);
    }

    [Fact]
    public async Task Misconfiguration_InvalidValue_StartFails_NamingTheConfigurationKey()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        using var host = BuildHost(authority, new FakeTimeProvider(Start), settings: s =>
        {
            s[$"{Section}:TokenEndpoint"] = "http://as.example.com/token";
            s[$"{Section}:ClientAuthenticationMethod"] = "tls_client_auth";
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Equal(
            [
                "LockFree:Clients:billing:TokenEndpoint must be an absolute https URI (plain http only for a loopback host) without fragment or user information.",
                "LockFree:Clients:billing:ClientAuthenticationMethod must be client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt (was 'tls_client_auth').",
            ],
            error.Failures);
    }

    [Fact]
    public async Task ClientSecretJwt_FromConfiguration_EachExchangeAVerifiedAssertion_SecretNeverSentOrLogged()
    {
        const string secret = "billing-jwt-SECRET-0123456789-abcdefghij";
        await using var authority = await LoopbackAuthority.StartAsync();
        authority.JwtSecret = secret;
        var time = new FakeTimeProvider(Start);
        var logs = new CountingLoggerProvider();
        using var host = BuildHost(authority, time, settings: s =>
        {
            s[$"{Section}:ClientAuthenticationMethod"] = "client_secret_jwt";
            s[$"{Section}:ClientSecret"] = secret;
        }, configureServices: services => services.AddLogging(l => l.AddProvider(logs).SetMinimumLevel(LogLevel.Debug)));
        await host.StartAsync().Within();

        await StormAsync(host, authority, 32);
        time.Advance(TimeSpan.FromSeconds(authority.ExpiresIn));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(host).Within());

        Assert.Equal(2, authority.Exchanges);
        Assert.Equal(2, authority.AssertionIds.Count);
        Assert.NotEmpty(logs.Messages);
        Assert.DoesNotContain(logs.Messages, m => m.Contains(secret, StringComparison.Ordinal) || authority.AssertionIds.Keys.Any(jti => m.Contains(jti, StringComparison.Ordinal)));
        await host.StopAsync().Within();
    }

    [Fact]
    public async Task ClientSecretJwt_SecretTooShort_StartFails_NamingTheConfigurationKey()
    {
        const string secret = "short-SECRET";
        await using var authority = await LoopbackAuthority.StartAsync();
        using var host = BuildHost(authority, new FakeTimeProvider(Start), settings: s =>
        {
            s[$"{Section}:ClientAuthenticationMethod"] = "client_secret_jwt";
            s[$"{Section}:ClientSecret"] = secret;
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Equal(
            "LockFree:Clients:billing:ClientSecret must be at least 32 bytes (UTF-8) long for client_secret_jwt with HS256 (RFC 7518 §3.2: an HMAC key as long as the hash output).",
            Assert.Single(error.Failures));
        Assert.DoesNotContain(secret, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, authority.Exchanges);
    }

    [Fact]
    public async Task Misconfiguration_InCode_StartFails_NamingTheClientAndOption()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddClientCredentialsTokenManagement().AddClient("billing", o => o.TokenEndpoint = new Uri("https://as.example.com/token"));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Contains("Client-credentials client 'billing': ClientId is required.", error.Failures);
    }

    [Fact]
    public async Task BackChannel_IsTheNamedFactoryClient_WithoutRedirects_AndTakesTheApplicationsHandlers()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        var seen = 0;
        using var host = BuildHost(authority, new FakeTimeProvider(Start), configureServices: services =>
            services.AddHttpClient(ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName)
                .AddHttpMessageHandler(() => new PassThroughHandler(() => Interlocked.Increment(ref seen))));
        await host.StartAsync().Within();

        await SendAsync(host);

        Assert.Equal(1, Volatile.Read(ref seen));
        var chain = host.Services.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler(ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName);
        while (chain is DelegatingHandler delegating)
        {
            chain = delegating.InnerHandler!;
        }

        Assert.False(Assert.IsType<SocketsHttpHandler>(chain).AllowAutoRedirect);
        await host.StopAsync().Within();
    }

    [Fact]
    public async Task TokenHandler_WithoutBaseAddress_CreatingTheClientFailsWithAClearMessage()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        using var host = BuildHost(authority, new FakeTimeProvider(Start), configureServices: services =>
            services.AddHttpClient("nowhere").AddClientCredentialsTokenHandler("billing"));
        await host.StartAsync().Within();

        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("nowhere"));

        Assert.Contains("'nowhere' has no BaseAddress", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Manager_IsASingleton_TakingTheContainersClockAndLoggers()
    {
        await using var authority = await LoopbackAuthority.StartAsync();
        var time = new FakeTimeProvider(Start);
        var logs = new CountingLoggerProvider();
        using var host = BuildHost(authority, time, configureServices: services => services.AddLogging(l => l.AddProvider(logs).SetMinimumLevel(LogLevel.Debug)));
        await host.StartAsync().Within();

        var manager = host.Services.GetRequiredService<ClientCredentialsTokenManager>();
        Assert.Same(manager, host.Services.GetRequiredService<ClientCredentialsTokenManager>());
        Assert.Same(time, manager.TimeProvider);
        var token = await manager.GetAccessTokenAsync("billing").Within();
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(authority.ExpiresIn), token.ExpiresAt);
        Assert.Contains(6000, logs.EventIds);
        Assert.DoesNotContain(logs.Messages, m => m.Contains(LoopbackAuthority.ClientSecret, StringComparison.Ordinal) || m.Contains(token.AccessToken, StringComparison.Ordinal));
        await host.StopAsync().Within();
    }

    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static IHost BuildHost(
        LoopbackAuthority authority,
        TimeProvider time,
        Action<Dictionary<string, string?>>? settings = null,
        Action<IServiceCollection>? configureServices = null,
        Action<IHttpClientBuilder>? configureApi = null)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            [$"{Section}:TokenEndpoint"] = authority.TokenEndpoint,
            [$"{Section}:ClientId"] = LoopbackAuthority.ClientId,
            [$"{Section}:ClientSecret"] = LoopbackAuthority.ClientSecret,
            [$"{Section}:Scope"] = "billing.read",
            ["Api:BaseAddress"] = authority.Origin,
        };
        settings?.Invoke(values);

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(values);
        builder.Services.AddSingleton(time);
        builder.Services.AddClientCredentialsTokenManagement()
            .AddClient("billing", builder.Configuration.GetSection(Section));
        var baseAddress = new Uri(authority.Origin);
        var api = builder.Services.AddClientCredentialsHttpClient(Api, "billing", client => client.BaseAddress = baseAddress);
        configureApi?.Invoke(api);
        builder.Services.AddHttpClient("billing-api-2", client => client.BaseAddress = baseAddress).AddClientCredentialsTokenHandler("billing");
        configureServices?.Invoke(builder.Services);
        return builder.Build();
    }

    private static async Task<HttpStatusCode> SendAsync(IHost host)
    {
        using var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(Api);
        using var response = await client.GetAsync(new Uri("/api/data", UriKind.Relative));
        return response.StatusCode;
    }

    /// <summary>
    /// <paramref name="count"/> concurrent requests, each through its own factory-created client, while the token
    /// endpoint is held until every other request has joined the exchange in flight.
    /// </summary>
    private static async Task StormAsync(IHost host, LoopbackAuthority authority, int count)
    {
        var manager = host.Services.GetRequiredService<ClientCredentialsTokenManager>();
        var joinedBefore = manager.CoordinatorFor("billing")?.Statistics.CallersCoalesced ?? 0;
        var hold = authority.HoldTokens();
        var requests = Enumerable.Range(0, count).Select(_ => Task.Run(() => SendAsync(host))).ToArray();
        await RepeatUntilAsync(() => Task.CompletedTask, () => manager.CoordinatorFor("billing")?.Statistics.CallersCoalesced - joinedBefore >= count - 1).Within();
        hold.TrySetResult();
        authority.Unhold();
        var statuses = await Task.WhenAll(requests).Within();
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
    }

    /// <summary>Runs <paramref name="step"/> until <paramref name="done"/>, pausing briefly between rounds (callers bound it with <c>Within</c>).</summary>
    private static async Task RepeatUntilAsync(Func<Task> step, Func<bool> done)
    {
        while (!done())
        {
            await step();
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }



    private sealed class PassThroughHandler(Action? onSend = null) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            onSend?.Invoke();
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class CountingLoggerProvider : ILoggerProvider, ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<(int Id, string Message)> _entries = new();

        public IEnumerable<int> EventIds => _entries.Select(e => e.Id);

        public IEnumerable<string> Messages => _entries.Select(e => e.Message);

        public ILogger CreateLogger(string categoryName) => this;

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _entries.Enqueue((eventId.Id, formatter(state, exception)));
    }
}
