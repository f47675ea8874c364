using LockFree.Auth.ClientCredentials;
using LockFree.Auth.Extensions;
using LockFree.Auth.Testing.OAuth;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// Sharing through DI (issue 13, spec/dependency-injection.md): two generic hosts — two replicas, each with its own
/// container and Redis connection — register the same provider and client-credentials client, the Redis store
/// (<c>AddRedisSharedTokenStore</c>) and <c>AddSharedTokens</c>; 64 cold callers in each → one exchange per token.
/// </summary>
public sealed class DependencyInjectionSharingTests(RedisServerFixture fixture) : IClassFixture<RedisServerFixture>
{
    private const int Callers = 64;

    [Fact]
    public async Task TwoHosts_OneRedis_64CallersEach_Cold_OneExchangeForTheProvider_OneForTheClientCredentialsClient()
    {
        using var server = new FakeMcpAuthServer(TimeProvider.System);
        server.Clients["m2m"] = "pw";
        var prefix = "di:" + Guid.NewGuid().ToString("N");
        var connections = new List<ConnectionMultiplexer>();
        var hosts = new List<IHost>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var connection = await fixture.Server.ConnectAsync();
                connections.Add(connection);
                var host = BuildHost(server, connection, prefix);
                hosts.Add(host);
                await host.StartAsync().Within();
            }

            var providers = hosts.Select(h => h.Services.GetRequiredKeyedService<ClientOAuthProvider>("mcp")).ToArray();
            var tokens = await Task.WhenAll(providers.SelectMany(p => Enumerable.Range(0, Callers).Select(_ => Task.Run(() => p.GetTokensAsync())))).Within();
            Assert.Single(tokens.Select(t => t.AccessToken).Distinct());
            Assert.Equal(1, server.ClientCredentialsGrants);

            var managers = hosts.Select(h => h.Services.GetRequiredService<ClientCredentialsTokenManager>()).ToArray();
            var billing = await Task.WhenAll(managers.SelectMany(m => Enumerable.Range(0, Callers).Select(_ => Task.Run(() => m.GetAccessTokenAsync("billing"))))).Within();
            Assert.Single(billing.Select(t => t.AccessToken).Distinct());
            Assert.Equal(2, server.ClientCredentialsGrants); // one for the provider, one for the client: 256 callers in all
            Assert.NotEqual(tokens[0].AccessToken, billing[0].AccessToken);

            // A rejected client-credentials token retires the shared record (it still holds it); the next call of the
            // other host's manager, once its own cache is invalidated too, adopts the replacement: one more exchange.
            var rejected = billing[0].AccessToken;
            Assert.True(managers[0].InvalidateToken("billing", rejected));
            var renewed = await managers[0].GetAccessTokenAsync("billing").Within();
            Assert.NotEqual(rejected, renewed.AccessToken);
            Assert.True(managers[1].InvalidateToken("billing", rejected));
            Assert.Equal(renewed.AccessToken, (await managers[1].GetAccessTokenAsync("billing").Within()).AccessToken);
            Assert.Equal(3, server.ClientCredentialsGrants);

            foreach (var host in hosts)
            {
                await host.StopAsync().Within();
            }
        }
        finally
        {
            foreach (var host in hosts)
            {
                host.Dispose();
            }

            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData("https://auth.example.com", true)] // the client's own authority: adopted, no grant (the positive control)
    [InlineData("https://evil.example.com", false)] // another issuer: ignored, one grant of its own
    public async Task ClientCredentialsClient_AdoptsASharedTokenOnlyFromItsOwnIssuer(string recordIssuer, bool adopted)
    {
        using var server = new FakeMcpAuthServer(TimeProvider.System);
        server.Clients["m2m"] = "pw";
        using var http = server.CreateClient();
        var store = new ForgingStore(new InMemorySharedTokenStore(), recordIssuer, TimeProvider.System);
        using var manager = new ClientCredentialsTokenManager(
            new Dictionary<string, ClientCredentialsClientOptions>
            {
                ["billing"] = new()
                {
                    Authority = new Uri(server.Issuer),
                    ClientId = "m2m",
                    ClientSecret = "pw",
                    SharedTokens = new TokenSharing(store, "billing", Replica.DefaultOptions()),
                },
            },
            () => http);

        var token = await manager.GetAccessTokenAsync("billing").Within();

        Assert.NotNull(store.ForgedKey);
        Assert.Equal(adopted, token.AccessToken == ForgingStore.ForgedAccessToken);
        Assert.Equal(adopted ? 0 : 1, server.ClientCredentialsGrants);
    }

    [Fact]
    public void Misconfiguration_FailsAtRegistration_OrAtFirstUse_WithAMessageNamingTheFix()
    {
        var noPrefix = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddRedisSharedTokenStore(_ => { }));
        Assert.Contains("RedisSharedTokenStoreOptions.KeyPrefix", noPrefix.Message, StringComparison.Ordinal);

        var noProtector = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddSharedTokens(_ => { }));
        Assert.Contains("SharedTokenOptions.Protector", noProtector.Message, StringComparison.Ordinal);

        var services = new ServiceCollection();
        services.AddSharedTokens(o => o.Protector = new AesGcmSharedTokenProtector(Replica.TestKey));
        services.AddClientOAuthProvider("mcp", new Uri(FakeMcpAuthServer.ResourceUrl), o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "m2m";
            o.ClientSecret = "pw";
        });
        using var container = services.BuildServiceProvider();
        var noStore = Assert.Throws<InvalidOperationException>(() => container.GetRequiredKeyedService<ClientOAuthProvider>("mcp"));
        Assert.Contains("AddRedisSharedTokenStore", noStore.Message, StringComparison.Ordinal);
    }

    private static IHost BuildHost(FakeMcpAuthServer server, IConnectionMultiplexer connection, string prefix)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(connection);
        builder.Services.AddRedisSharedTokenStore(o => o.KeyPrefix = prefix);
        builder.Services.AddSharedTokens(o => o.Protector = new AesGcmSharedTokenProtector(Replica.TestKey));
        builder.Services.AddClientOAuthProvider("mcp", new Uri(FakeMcpAuthServer.ResourceUrl), o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "m2m";
            o.ClientSecret = "pw";
        });
        builder.Services.AddClientCredentialsTokenManagement().AddClient("billing", o =>
        {
            o.Authority = new Uri(server.Issuer);
            o.ClientId = "m2m";
            o.ClientSecret = "pw";
            o.Scope = "billing";
        });

        // Both back channels go to the in-process fake servers (a handler that never disposes them).
        builder.Services.AddHttpClient(AuthProviderServiceCollectionExtensions.BackChannelHttpClientName).ConfigurePrimaryHttpMessageHandler(() => new Forwarding(server));
        builder.Services.AddHttpClient(ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName).ConfigurePrimaryHttpMessageHandler(() => new Forwarding(server));
        return builder.Build();
    }

    private sealed class Forwarding(HttpMessageHandler server) : HttpMessageHandler
    {
        private readonly HttpMessageInvoker _invoker = new(server, disposeHandler: false);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _invoker.SendAsync(request, cancellationToken);
    }
}
