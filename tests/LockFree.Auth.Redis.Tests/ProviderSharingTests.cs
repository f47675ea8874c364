using System.Net;
using LockFree.Auth.Testing;
using LockFree.Auth.Testing.OAuth;
using LockFree.Auth.Testing.Sharing;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// Both providers with <c>SharedTokens</c> (issue 13, phase 2): two provider instances — two replicas, each with its own
/// Redis connection and store — share one token through a real Redis (spec/distributed.md, R13–R16).
/// </summary>
public sealed class ProviderSharingTests(RedisServerFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    private const int Callers = 64;

    [Fact]
    public async Task ClientCredentials_TwoProviders_64CallersEach_Cold_OneTokenRequest()
    {
        // R13: two ClientOAuthProvider replicas of one client identity, 64 concurrent cold callers each: one grant.
        await using var world = await OAuthWorld.StartAsync(fixture.Server, TimeProvider.System);
        var gate = world.Server.HoldTokenEndpoint();

        var requests = world.Replicas.SelectMany(r => Enumerable.Range(0, Callers).Select(_ => Task.Run(() => r.Client.GetAsync(FakeMcpAuthServer.ResourceUrl)))).ToArray();
        await WaitUntilAsync(() => world.Server.TokenArrivals >= 1);
        gate.SetResult();
        var responses = await Task.WhenAll(requests).Within();

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, world.Server.ClientCredentialsGrants);
        Assert.Equal(0, world.Server.InvalidGrants);
        var tokens = await Task.WhenAll(world.Replicas.Select(r => r.Provider.GetTokensAsync())).Within();
        Assert.Single(tokens.Select(t => t.AccessToken).Distinct());
        output.WriteLine($"2 providers x {Callers} cold callers: token requests {world.Server.TokenRequests}, record keys {world.Keys}");
        foreach (var r in responses) { r.Dispose(); }
    }

    [Fact]
    public async Task DynamicRegistration_TwoProviders_64CallersEach_Cold_OneRegistration_OneTokenRequest()
    {
        // Shared registration: two replicas without a client ID, 64 concurrent cold callers each. The registration is
        // held until both replicas asked for the registration record's lease (one holds it, the other found it held),
        // so both were cold at once: one registration request, one token request, one client ID everywhere.
        await using var world = await OAuthWorld.StartAsync(fixture.Server, TimeProvider.System, dynamicRegistration: true);
        var registration = world.Server.HoldRegistrationEndpoint();

        var requests = world.Replicas.SelectMany(r => Enumerable.Range(0, Callers).Select(_ => Task.Run(() => r.Client.GetAsync(FakeMcpAuthServer.ResourceUrl)))).ToArray();
        await WaitUntilAsync(() => world.Server.RegistrationArrivals >= 1
            && world.Stores.Sum(s => s.Leases.Where(l => l.Key.Status == SharedLeaseStatus.Held).Sum(l => l.Value)) >= 1);
        registration.SetResult();
        var responses = await Task.WhenAll(requests).Within();

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, world.Server.Registrations);
        Assert.Equal(1, world.Server.ClientCredentialsGrants);
        var clientIds = world.Server.TokenEndpointRequests.Select(ClientIdOf).Distinct().ToArray();
        var clientId = Assert.Single(clientIds);
        Assert.Equal(world.Server.RegisteredSecret, world.Server.Clients[clientId!]); // a confidential registration, secret and all
        var tokens = await Task.WhenAll(world.Replicas.Select(r => r.Provider.GetTokensAsync())).Within();
        Assert.Single(tokens.Select(t => t.AccessToken).Distinct());

        // The registration record is protected like a token set: the client secret is nowhere in Redis in plain text.
        Assert.False(await world.AnyValueContainsAsync(world.Server.RegisteredSecret), "a client secret was written to Redis in plain text");
        output.WriteLine($"2 providers x {Callers} cold callers with dynamic registration: registrations {world.Server.Registrations}, token requests {world.Server.TokenRequests}, record keys {world.Keys}");
        foreach (var r in responses) { r.Dispose(); }
    }

    [Fact]
    public async Task DynamicRegistration_SeededBug_LeaseGrantedToEveryone_BothReplicasRegister()
    {
        // The seeded store grants every replica the lease: the same cold storm then registers twice (held until both
        // registrations arrived), which the registration count of the test above catches.
        await using var world = await OAuthWorld.StartAsync(fixture.Server, TimeProvider.System, dynamicRegistration: true, seededBug: static s => new EveryoneGetsTheLeaseStore(s));
        var registration = world.Server.HoldRegistrationEndpoint();
        var requests = world.Replicas.SelectMany(r => Enumerable.Range(0, Callers).Select(_ => Task.Run(() => r.Provider.GetTokensAsync()))).ToArray();
        await WaitUntilAsync(() => world.Server.RegistrationArrivals >= 2);
        registration.SetResult();
        await Task.WhenAll(requests).Within();
        Assert.Equal(2, world.Server.Registrations);
    }

    [Fact]
    public async Task DynamicRegistration_InvalidClient_RetiresTheSharedRegistrationConditionally_OneNewRegistrationForBoth()
    {
        // The server forgets the shared client: replica A's token request gets invalid_client, which retires the shared
        // registration (it still holds that client ID); A's next call registers once more; B then adopts the new
        // registration (no third registration) and B's late retirement of the old client ID retires nothing.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var world = await OAuthWorld.StartAsync(fixture.Server, time, dynamicRegistration: true);
        world.Server.IssueRefreshTokensForClientCredentials = false;
        var (a, b) = (world.Replicas[0], world.Replicas[1]);
        var first = await a.Provider.GetTokensAsync().Within();
        Assert.Equal(first.AccessToken, (await b.Provider.GetTokensAsync().Within()).AccessToken);
        Assert.Equal(1, world.Server.Registrations);
        var oldClient = Assert.Single(world.Server.Clients.Keys, k => k.StartsWith("dcr-client-", StringComparison.Ordinal));
        Assert.True(world.Server.Clients.TryRemove(oldClient, out _));

        time.Advance(TimeSpan.FromHours(2));
        var rejected = await Assert.ThrowsAsync<OAuthException>(() => a.Provider.GetTokensAsync()).Within();
        Assert.Equal("invalid_client", rejected.Error);
        Assert.True(await world.Store(0).NextInvalidationAsync().Within(), "the shared registration held the rejected client: A retires it");

        var renewed = await a.Provider.GetTokensAsync().Within();
        Assert.Equal(2, world.Server.Registrations);
        var newClient = ClientIdOf(world.Server.TokenEndpointRequests[^1]);
        Assert.NotEqual(oldClient, newClient);

        // B still holds the old client in memory: its exchange fails with invalid_client once, its retirement finds the
        // record holding the new client (retires nothing), and its retry adopts the new registration and its token.
        var failedOnB = await Assert.ThrowsAsync<OAuthException>(() => b.Provider.GetTokensAsync()).Within();
        Assert.Equal("invalid_client", failedOnB.Error);
        Assert.False(await world.Store(1).NextInvalidationAsync().Within(), "the record holds the new client: B's late retirement of the old one retires nothing");
        var onB = await b.Provider.GetTokensAsync().Within();
        Assert.Equal(renewed.AccessToken, onB.AccessToken);
        Assert.Equal(2, world.Server.Registrations);
        Assert.Equal(2, world.Server.ClientCredentialsGrants);
    }

    [Fact]
    public async Task ClientCredentials_TwoProviders_AfterExpiry_OneRefresh_WithTheRotatingRefreshToken_NoReuse()
    {
        // R14: after expiry, 2 x 64 callers: one refresh in total, with the shared (current) refresh token.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var world = await OAuthWorld.StartAsync(fixture.Server, time);
        await Task.WhenAll(world.Replicas.SelectMany(r => Enumerable.Range(0, Callers).Select(_ => Task.Run(() => r.Provider.GetTokensAsync())))).Within();
        Assert.Equal(1, world.Server.ClientCredentialsGrants);
        var first = await world.Replicas[0].Provider.GetTokensAsync().Within();
        Assert.NotNull(first.RefreshToken);

        time.Advance(TimeSpan.FromHours(2));
        var after = await Task.WhenAll(world.Replicas.SelectMany(r => Enumerable.Range(0, Callers).Select(_ => Task.Run(() => r.Provider.GetTokensAsync())))).Within();

        Assert.Equal(1, world.Server.ClientCredentialsGrants);
        Assert.Equal(1, world.Server.RefreshGrants);
        Assert.Equal(0, world.Server.InvalidGrants);
        var refreshed = Assert.Single(after.Select(t => t.AccessToken).Distinct());
        Assert.NotEqual(first.AccessToken, refreshed);
        Assert.Equal(first.RefreshToken, world.Server.TokenEndpointRequests[^1].Form["refresh_token"]);
        output.WriteLine($"after expiry, 2 x {Callers} callers: client credentials {world.Server.ClientCredentialsGrants}, refreshes {world.Server.RefreshGrants}, invalid_grant {world.Server.InvalidGrants}");
    }

    [Fact]
    public async Task ClientCredentials_401ForT_RetiresTheSharedRecordOnlyWhileItHoldsT()
    {
        // R15: a 401 for T on replica A retires the record (it holds T) and A's retry refreshes once; replica B's late
        // 401 for T retires nothing (the record holds T2) and B adopts T2 without a token request.
        await using var world = await OAuthWorld.StartAsync(fixture.Server, TimeProvider.System);
        var (a, b) = (world.Replicas[0], world.Replicas[1]);
        using (var warmA = await a.Client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within())
        using (var warmB = await b.Client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within())
        {
            Assert.Equal(HttpStatusCode.OK, warmA.StatusCode);
            Assert.Equal(HttpStatusCode.OK, warmB.StatusCode);
        }

        var t = await a.Provider.GetTokensAsync().Within();
        Assert.Equal(t.AccessToken, (await b.Provider.GetTokensAsync().Within()).AccessToken);
        Assert.Equal(1, world.Server.TokenRequests);
        world.Server.Revoke(t.AccessToken);

        // A's retry exchanges behind a held token endpoint, so A's background invalidation meets the record while it
        // still holds T (deterministic order; the acquisition is correct in either order, see spec/distributed.md).
        var gate = world.Server.HoldTokenEndpoint();
        var retry = a.Client.GetAsync(FakeMcpAuthServer.ResourceUrl);
        Assert.True(await world.Store(0).NextInvalidationAsync().Within(), "the record held T: A's 401 retires it");
        gate.SetResult();
        using (var retried = await retry.Within())
        {
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        }

        var t2 = await a.Provider.GetTokensAsync().Within();
        Assert.NotEqual(t.AccessToken, t2.AccessToken);

        using (var late = await b.Client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within())
        {
            Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        }

        Assert.False(await world.Store(1).NextInvalidationAsync().Within(), "the record holds T2: B's late 401 for T retires nothing");
        Assert.Equal(t2.AccessToken, (await b.Provider.GetTokensAsync().Within()).AccessToken);
        Assert.Equal(2, world.Server.TokenRequests); // the grant, then one refresh: B adopted T2
        Assert.Equal(1, world.Server.RefreshGrants);
        Assert.Equal(0, world.Server.InvalidGrants);
    }

    [Fact]
    public async Task ClientCredentials_TwoResources_NeverShareAToken()
    {
        // The key includes the resource: a provider of another resource (same identity, same issuer) exchanges its own.
        await using var world = await OAuthWorld.StartAsync(fixture.Server, TimeProvider.System);
        var first = await world.Replicas[0].Provider.GetTokensAsync().Within();
        using var other = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceOrigin + "/other"), world.Options(world.Stores[1]), world.BackChannel, null, TimeProvider.System);
        world.Server.PrmLocation = PrmLocation.Root;

        var second = await other.GetTokensAsync().Within();

        Assert.NotEqual(first.AccessToken, second.AccessToken);
        Assert.Equal(2, world.Server.ClientCredentialsGrants);
        Assert.Equal(2, world.Stores.SelectMany(s => s.Keys.Keys).Distinct().Count());
    }

    [Fact]
    public async Task ClientCredentials_SharedTokenOfAnotherIssuer_IsIgnored_AndItsRefreshTokenNeverSent()
    {
        // T3/T5: a record whose token set names another issuer (written by a misconfigured or hostile replica with the
        // key) is treated like a restored token of an issuer the provider may not use: not adopted, its refresh token
        // not sent; the provider exchanges with its own grant and the fence replaces the record.
        var time = TimeProvider.System;
        var server = new FakeMcpAuthServer(time);
        server.Clients["m2m"] = "pw";
        using var backChannel = server.CreateClient();
        using var logs = new RecordingLoggerFactory();
        var store = new ForgingStore(new InMemorySharedTokenStore(time), "https://evil.example.com", time);
        var options = new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = "m2m",
            ClientSecret = "pw",
            SharedTokens = new TokenSharing(store, "m2m", Replica.DefaultOptions(logs)),
        };
        using var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), options, backChannel, null, time);

        var tokens = await provider.GetTokensAsync().Within();

        Assert.NotEqual(ForgingStore.ForgedAccessToken, tokens.AccessToken);
        Assert.Equal(1, server.ClientCredentialsGrants);
        Assert.Equal(0, server.RefreshGrants);
        Assert.DoesNotContain(server.TokenEndpointRequests, r => r.Body.Contains(ForgingStore.ForgedRefreshToken, StringComparison.Ordinal));
        Assert.Contains(logs.Records, r => r.EventId.Id == 5009);
        var record = await store.ReadAsync(store.ForgedKey!, default);
        Assert.Equal(2, record!.Version); // the provider's own token set replaced the forged one (fence at version 1)
        server.Dispose();
    }

    [Fact]
    public async Task CrossApp_TwoProviders_64CallersEach_Cold_OneExchange()
    {
        // R16: two CrossApplicationAccessProvider replicas, 64 concurrent cold callers each: one ID token callback, one
        // IdP exchange, one jwt-bearer grant.
        var handler = new FakeHttpHandler();
        var asServer = new FakeOAuthServer(handler, "https://as.example.com", "as");
        var idp = new FakeOAuthServer(handler, "https://idp.example.com", "idp");
        var callbacks = 0;
        var prefix = "xaa:" + Guid.NewGuid().ToString("N");
        await using var redisA = await fixture.Server.ConnectAsync();
        await using var redisB = await fixture.Server.ConnectAsync();
        var providers = new[] { redisA, redisB }.Select(redis => new CrossApplicationAccessProvider(
            new CrossApplicationAccessProviderOptions
            {
                ClientId = "mcp-client",
                ClientSecret = "as-secret",
                IdpTokenEndpoint = idp.TokenEndpoint,
                IdpClientId = "idp-client",
                IdpClientSecret = "idp-secret",
                IdTokenCallback = (_, _) => { Interlocked.Increment(ref callbacks); return Task.FromResult("id-token-of-alice"); },
                SharedTokens = new TokenSharing(new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = prefix }), "alice", Replica.DefaultOptions()),
            },
            handler.CreateClient())).ToArray();
        try
        {
            var resource = new Uri("https://mcp.example.com/mcp");
            var issuer = new Uri(asServer.Issuer);
            var gate = asServer.HoldTokens();
            var calls = providers.SelectMany(p => Enumerable.Range(0, Callers).Select(_ => Task.Run(() => p.GetAccessTokenAsync(resource, issuer)))).ToArray();
            await gate.WaitForArrivalsAsync(1).Within();
            gate.Release();
            var tokens = await Task.WhenAll(calls).Within();

            Assert.Single(tokens.Select(t => t.AccessToken).Distinct());
            Assert.Equal(1, asServer.TokenRequests);
            Assert.Equal(1, idp.TokenRequests);
            Assert.Equal(1, Volatile.Read(ref callbacks));
            output.WriteLine($"cross-app, 2 providers x {Callers} cold callers: jwt-bearer grants {asServer.TokenRequests}, IdP exchanges {idp.TokenRequests}, ID token callbacks {callbacks}");
        }
        finally
        {
            foreach (var p in providers) { p.Dispose(); }
        }
    }

    /// <summary>The client a token request authenticated as (HTTP Basic or the form's client_id).</summary>
    private static string? ClientIdOf(RecordedRequest request)
    {
        if (request.Authorization is { Scheme: "Basic", Parameter: { } basic })
        {
            var decoded = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(basic));
            return Uri.UnescapeDataString(decoded[..decoded.IndexOf(':', StringComparison.Ordinal)]);
        }

        return request.Form.GetValueOrDefault("client_id");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        // Bounded: the condition is an arrival at a held endpoint, which the test's own requests cause.
        await Task.Run(async () =>
        {
            while (!condition())
            {
                await Task.Delay(5);
            }
        }).Within();
    }

    /// <summary>One fake MCP server + authorization server, one Redis, and two provider replicas with their own connections.</summary>
    private sealed class OAuthWorld : IAsyncDisposable
    {
        private readonly List<ConnectionMultiplexer> _connections = [];
        private readonly string _prefix = "oauth:" + Guid.NewGuid().ToString("N");

        private OAuthWorld(TimeProvider time)
        {
            Time = time;
            Server = new FakeMcpAuthServer(time) { IssueRefreshTokensForClientCredentials = true };
            Server.Clients["m2m"] = "pw";
            BackChannel = Server.CreateClient();
        }

        public TimeProvider Time { get; }

        public FakeMcpAuthServer Server { get; }

        public HttpClient BackChannel { get; }

        public List<ObservedSharedStore> Stores { get; } = [];

        public List<(ClientOAuthProvider Provider, HttpClient Client)> Replicas { get; } = [];

        public string Keys => string.Join(", ", Stores.SelectMany(s => s.Keys.Keys).Distinct().Select(k => k[..Math.Min(k.Length, 20)] + "…"));

        public ObservedSharedStore Store(int replica) => Stores[replica];

        public bool DynamicRegistration { get; private set; }

        public static async Task<OAuthWorld> StartAsync(
            RedisServer redis, TimeProvider time, bool dynamicRegistration = false, Func<ISharedTokenStore, ISharedTokenStore>? seededBug = null)
        {
            var world = new OAuthWorld(time) { DynamicRegistration = dynamicRegistration };
            for (var i = 0; i < 2; i++)
            {
                var connection = await redis.ConnectAsync();
                world._connections.Add(connection);
                var redisStore = new RedisSharedTokenStore(connection, new RedisSharedTokenStoreOptions { KeyPrefix = world._prefix }, time);
                var store = new ObservedSharedStore(seededBug is null ? redisStore : seededBug(redisStore));
                world.Stores.Add(store);
                var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), world.Options(store), world.BackChannel, null, time);
                world.Replicas.Add((provider, new HttpClient(new ClientOAuthHandler(provider, world.Server), disposeHandler: false)));
            }

            return world;
        }

        public ClientOAuthOptions Options(ISharedTokenStore store) => DynamicRegistration
            ? new()
            {
                GrantType = OAuthGrantType.ClientCredentials,
                DynamicClientRegistration = new DynamicClientRegistrationOptions(),
                TokenEndpointAuthMethod = "client_secret_basic", // a confidential client: the registration carries a secret
                SharedTokens = new TokenSharing(store, "m2m", Replica.DefaultOptions()),
            }
            : new()
            {
                GrantType = OAuthGrantType.ClientCredentials,
                ClientId = "m2m",
                ClientSecret = "pw",
                SharedTokens = new TokenSharing(store, "m2m", Replica.DefaultOptions()),
            };

        /// <summary>Whether any string or hash field under this world's prefix contains <paramref name="text"/>.</summary>
        public async Task<bool> AnyValueContainsAsync(string text)
        {
            var connection = _connections[0];
            var db = connection.GetDatabase();
            var server = connection.GetServer(connection.GetEndPoints()[0]);
            await foreach (var key in server.KeysAsync(pattern: _prefix + "*"))
            {
                var values = await db.KeyTypeAsync(key) == RedisType.Hash
                    ? (await db.HashGetAllAsync(key)).Select(e => (byte[])e.Value!)
                    : [(byte[])(await db.StringGetAsync(key))!];
                if (values.Any(v => v is not null && System.Text.Encoding.UTF8.GetString(v).Contains(text, StringComparison.Ordinal)))
                {
                    return true;
                }
            }

            return false;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var (provider, client) in Replicas)
            {
                client.Dispose();
                provider.Dispose();
            }

            BackChannel.Dispose();
            foreach (var connection in _connections)
            {
                await connection.DisposeAsync();
            }

            Server.Dispose();
        }
    }
}

/// <summary>An in-memory store that, the first time a key is read, finds a live record there naming another issuer.</summary>
internal sealed class ForgingStore(InMemorySharedTokenStore inner, string issuer, TimeProvider time) : DelegatingStore(inner)
{
    public const string ForgedAccessToken = "forged-access-token";
    public const string ForgedRefreshToken = "forged-refresh-token";

    public string? ForgedKey { get; private set; }

    public override async ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        if (ForgedKey is null)
        {
            ForgedKey = key;
            var payload = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
            {
                ["at"] = ForgedAccessToken,
                ["tt"] = "Bearer",
                ["rt"] = ForgedRefreshToken,
                ["iss"] = issuer,
                ["oa"] = time.GetUtcNow().UtcTicks,
                ["ei"] = TimeSpan.FromHours(1).Ticks,
            });
            var lease = await inner.TryAcquireLeaseAsync(key, 0, "forger", TimeSpan.FromSeconds(30), cancellationToken);
            var value = new SharedTokenValue(new AesGcmSharedTokenProtector(Replica.TestKey).Protect(payload, key), "forged", time.GetUtcNow().AddHours(1));
            await inner.PublishAsync(key, lease, value, cancellationToken);
        }

        return await inner.ReadAsync(key, cancellationToken);
    }
}
