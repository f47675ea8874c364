using System.Net;
using LockFree.Auth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using System.Security.Cryptography;

namespace LockFree.Auth.Tests.ClientCredentials;

/// <summary>
/// The client-credentials token manager on a fake token endpoint: coalescing (cold and at expiry), conditional
/// invalidation, a caller's cancellation never cancels the shared exchange, per-request keys, client authentication,
/// discovery, and no secret in any message.
/// </summary>
public sealed class ClientCredentialsTokenManagerTests
{
    private const int Callers = 256;

    [Fact]
    public async Task GetAccessToken_256ConcurrentCallersCold_OneExchange()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        var gate = world.Server.HoldTokens();

        var calls = Enumerable.Range(0, Callers).Select(_ => Task.Run(() => manager.GetAccessTokenAsync("billing"))).ToArray();
        await gate.WaitForArrivalsAsync(1).Within();
        gate.Release();
        var tokens = await Task.WhenAll(calls).Within();

        Assert.Equal(1, world.Server.TokenRequests);
        Assert.All(tokens, t => Assert.Same(tokens[0], t));
        Assert.Equal("cc-access-1", tokens[0].AccessToken);
        Assert.Equal("Bearer", tokens[0].TokenType);
        Assert.Equal(world.Time.GetUtcNow() + TimeSpan.FromHours(1), tokens[0].ExpiresAt);
    }

    [Fact]
    public async Task GetAccessToken_AfterExpiry_256ConcurrentCallers_OneMoreExchange()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        var first = await manager.GetAccessTokenAsync("billing").Within();

        world.Time.Advance(TimeSpan.FromHours(1));
        var gate = world.Server.HoldTokens();
        var calls = Enumerable.Range(0, Callers).Select(_ => Task.Run(() => manager.GetAccessTokenAsync("billing"))).ToArray();
        await gate.WaitForArrivalsAsync(1).Within();
        gate.Release();
        var tokens = await Task.WhenAll(calls).Within();

        Assert.Equal(2, world.Server.TokenRequests);
        Assert.All(tokens, t => Assert.Same(tokens[0], t));
        Assert.NotSame(first, tokens[0]);
    }

    [Fact]
    public async Task GetAccessToken_CachedToken_NoExchange()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        var first = await manager.GetAccessTokenAsync("billing").Within();
        for (var i = 0; i < 100; i++)
        {
            Assert.Same(first, await manager.GetAccessTokenAsync("billing").Within());
        }

        Assert.Equal(1, world.Server.TokenRequests);
    }

    [Fact]
    public async Task InvalidateToken_OnlyWhileStillCached()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        var first = await manager.GetAccessTokenAsync("billing").Within();

        Assert.False(manager.InvalidateToken("billing", "some-other-token"));
        Assert.Same(first, await manager.GetAccessTokenAsync("billing").Within());
        Assert.Equal(1, world.Server.TokenRequests);

        Assert.True(manager.InvalidateToken("billing", first.AccessToken));
        var second = await manager.GetAccessTokenAsync("billing").Within();
        Assert.NotSame(first, second);
        Assert.Equal(2, world.Server.TokenRequests);

        // A late rejection of the token that was already replaced retires nothing and costs no exchange.
        Assert.False(manager.InvalidateToken("billing", first.AccessToken));
        Assert.Same(second, await manager.GetAccessTokenAsync("billing").Within());
        Assert.Equal(2, world.Server.TokenRequests);
    }

    [Fact]
    public async Task GetAccessToken_CallerCancelled_SharedExchangeCompletesForTheOthers()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        var gate = world.Server.HoldTokens();
        using var cts = new CancellationTokenSource();

        var cancelled = manager.GetAccessTokenAsync("billing", null, cts.Token);
        await gate.WaitForArrivalsAsync(1).Within();
        var patient = manager.GetAccessTokenAsync("billing");
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.Within());

        gate.Release();
        var token = await patient.Within();
        Assert.Equal("cc-access-1", token.AccessToken);
        Assert.Equal(1, world.Server.TokenRequests);
    }

    [Fact]
    public async Task GetAccessToken_PerRequestScopeAndResource_EachCachedUnderItsOwnKey()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager(o => o.Resource = new Uri("https://api.example.com/"));

        var configured = await manager.GetAccessTokenAsync("billing").Within();
        var write = await manager.GetAccessTokenAsync("billing", new ClientCredentialsTokenRequest { Scope = "billing.write" }).Within();
        var writeAgain = await manager.GetAccessTokenAsync("billing", new ClientCredentialsTokenRequest { Scope = "billing.write" }).Within();
        var other = await manager.GetAccessTokenAsync("billing", new ClientCredentialsTokenRequest { Resource = new Uri("https://reports.example.com/") }).Within();
        var configuredAgain = await manager.GetAccessTokenAsync("billing", new ClientCredentialsTokenRequest()).Within();

        Assert.Same(write, writeAgain);
        Assert.Same(configured, configuredAgain);
        Assert.Equal(3, new[] { configured, write, other }.Distinct().Count());
        var requests = world.Server.TokenRequestsReceived;
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal("client_credentials", r["grant_type"]));
        Assert.Equal(("billing.read", "https://api.example.com/"), (requests[0]["scope"], requests[0]["resource"]));
        Assert.Equal(("billing.write", "https://api.example.com/"), (requests[1]["scope"], requests[1]["resource"]));
        Assert.Equal(("billing.read", "https://reports.example.com/"), (requests[2]["scope"], requests[2]["resource"]));

        // Invalidating one key leaves the others cached.
        Assert.True(manager.InvalidateToken("billing", write.AccessToken, new ClientCredentialsTokenRequest { Scope = "billing.write" }));
        Assert.Same(configured, await manager.GetAccessTokenAsync("billing").Within());
        Assert.Equal(3, world.Server.TokenRequests);
    }

    [Fact]
    public async Task GetAccessToken_ClientSecretBasicByDefault_PostWhenConfigured()
    {
        var world = new ClientCredentialsFixture();
        using (var basic = world.Manager())
        {
            await basic.GetAccessTokenAsync("billing").Within();
        }

        using (var post = world.Manager(o => o.ClientAuthenticationMethod = ClientCredentialsClientOptions.ClientSecretPost))
        {
            await post.GetAccessTokenAsync("billing").Within();
        }

        var requests = world.Server.TokenRequestsReceived;
        Assert.StartsWith("Basic ", requests[0].Authorization, StringComparison.Ordinal);
        Assert.Null(requests[0]["client_secret"]);
        Assert.Null(requests[1].Authorization);
        Assert.Equal("billing-client", requests[1]["client_id"]);
        Assert.Equal(ClientCredentialsFixture.ClientSecret, requests[1]["client_secret"]);
    }

    [Fact]
    public async Task GetAccessToken_PrivateKeyJwt_SendsASignedAssertionForTheTokenEndpoint()
    {
        var world = new ClientCredentialsFixture();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var signing = new SigningCredentials(new ECDsaSecurityKey(key) { KeyId = "k1" }, SecurityAlgorithms.EcdsaSha256);
        using var manager = world.Manager(o => { o.ClientSecret = null; o.ClientAssertionSigningCredentials = signing; });

        await manager.GetAccessTokenAsync("billing").Within();

        var request = Assert.Single(world.Server.TokenRequestsReceived);
        Assert.Null(request.Authorization);
        Assert.Equal("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", request["client_assertion_type"]);
        var jwt = new JsonWebToken(request["client_assertion"]);
        Assert.Equal("billing-client", jwt.Issuer);
        Assert.Equal("billing-client", jwt.Subject);
        Assert.Equal(world.Server.TokenEndpoint, Assert.Single(jwt.Audiences));
    }

    [Fact]
    public async Task GetAccessToken_WithAuthority_DiscoversTheTokenEndpointOnce()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager(o => { o.TokenEndpoint = null; o.Authority = new Uri(ClientCredentialsFixture.Issuer); });

        await manager.GetAccessTokenAsync("billing").Within();
        await manager.GetAccessTokenAsync("billing", new ClientCredentialsTokenRequest { Scope = "other" }).Within();

        Assert.Equal(1, world.Server.MetadataRequests);
        Assert.Equal(2, world.Server.TokenRequests);
    }

    [Fact]
    public async Task GetAccessToken_ErrorResponse_TypedFailureWithoutSecrets_AndNextCallerRetries()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        world.Server.TokenResponder = _ => FakeResponses.OAuthError("invalid_client", "bad client", HttpStatusCode.Unauthorized);

        var failure = await Assert.ThrowsAsync<OAuthException>(() => manager.GetAccessTokenAsync("billing").Within());
        Assert.Equal(OAuthFailureReason.ErrorResponse, failure.Reason);
        Assert.Equal("invalid_client", failure.Error);
        Assert.DoesNotContain(ClientCredentialsFixture.ClientSecret, failure.ToString(), StringComparison.Ordinal);

        world.Server.TokenResponder = null;
        var token = await manager.GetAccessTokenAsync("billing").Within();
        Assert.Equal(2, world.Server.TokenRequests);
        Assert.DoesNotContain(token.AccessToken, token.ToString(), StringComparison.Ordinal);
        Assert.Contains("[redacted]", token.ToString(), StringComparison.Ordinal);
        Assert.All(world.Logs.Entries, e =>
        {
            Assert.DoesNotContain(ClientCredentialsFixture.ClientSecret, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(token.AccessToken, e.Message, StringComparison.Ordinal);
        });
        Assert.Contains(world.Logs.Records, r => r.EventId.Id == 6003);
        Assert.Contains(world.Logs.Records, r => r.EventId.Id == 6000);
    }

    [Fact]
    public void Options_ToStringAndValidation_NeverShowTheSecret()
    {
        var options = new ClientCredentialsFixture().Options(o => o.TokenEndpoint = new Uri("http://as.example.com/token"));
        Assert.DoesNotContain(ClientCredentialsFixture.ClientSecret, options.ToString(), StringComparison.Ordinal);
        Assert.Contains("[redacted]", options.ToString(), StringComparison.Ordinal);
        var errors = options.Validate("LockFree:Clients:billing:");
        Assert.Equal("LockFree:Clients:billing:TokenEndpoint must be an absolute https URI (plain http only for a loopback host) without fragment or user information.", Assert.Single(errors));
    }

    [Fact]
    public void Validate_NamesEachOptionWithThePrefix()
    {
        var options = new ClientCredentialsClientOptions { ClientAuthenticationMethod = "tls_client_auth", Resource = new Uri("https://api.example.com/#x"), MaxResponseBytes = 0 };
        var errors = options.Validate("LockFree:Clients:billing:");
        Assert.Equal(
            [
                "LockFree:Clients:billing:TokenEndpoint or LockFree:Clients:billing:Authority is required.",
                "LockFree:Clients:billing:ClientId is required.",
                "LockFree:Clients:billing:ClientAuthenticationMethod must be client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt (was 'tls_client_auth').",
                "LockFree:Clients:billing:Resource must be an absolute URI without fragment (RFC 8707).",
                "LockFree:Clients:billing:MaxResponseBytes must be positive.",
            ],
            errors);
        Assert.Contains("ClientSecret is required for client_secret_basic.", new ClientCredentialsClientOptions { TokenEndpoint = new Uri("https://as.example.com/token"), ClientId = "c" }.Validate());
        Assert.Contains("ClientAssertionSigningCredentials is required for private_key_jwt.", new ClientCredentialsClientOptions { TokenEndpoint = new Uri("https://as.example.com/token"), ClientId = "c", ClientAuthenticationMethod = "private_key_jwt" }.Validate());
        Assert.Contains("TokenEndpoint and Authority are both set; set only one of them.", new ClientCredentialsClientOptions { TokenEndpoint = new Uri("https://as.example.com/token"), Authority = new Uri("https://as.example.com"), ClientId = "c", ClientSecret = "s" }.Validate());
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsNamingTheClientAndOption()
    {
        var world = new ClientCredentialsFixture();
        var error = Assert.Throws<ArgumentException>(() => world.Manager(o => o.ClientId = null));
        Assert.Contains("'billing'", error.Message, StringComparison.Ordinal);
        Assert.Contains("ClientId is required.", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(ClientCredentialsFixture.ClientSecret, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetAccessToken_UnknownClient_ArgumentException()
    {
        using var manager = new ClientCredentialsFixture().Manager();
        var error = await Assert.ThrowsAsync<ArgumentException>(() => manager.GetAccessTokenAsync("payroll"));
        Assert.Contains("'payroll'", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => manager.InvalidateToken("payroll", "t"));
    }

    [Fact]
    public async Task Capacity_BoundsTheKeysCached()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager(capacity: 2);
        for (var i = 0; i < 10; i++)
        {
            await manager.GetAccessTokenAsync("billing", new ClientCredentialsTokenRequest { Scope = $"s{i}" }).Within();
        }

        Assert.Equal(10, world.Server.TokenRequests);
        Assert.Null(manager.CoordinatorFor("billing", new ClientCredentialsTokenRequest { Scope = "s0" }));
        Assert.NotNull(manager.CoordinatorFor("billing", new ClientCredentialsTokenRequest { Scope = "s9" }));
    }

    [Fact]
    public async Task RefreshAhead_ServesTheCachedTokenWhileOneBackgroundExchangeReplacesIt()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        var first = await manager.GetAccessTokenAsync("billing").Within();

        // Inside the refresh-ahead window (2 min before UsableUntil) but still usable.
        world.Time.Advance(TimeSpan.FromHours(1) - TimeSpan.FromSeconds(60 + 30));
        var gate = world.Server.HoldTokens();
        var served = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => manager.GetAccessTokenAsync("billing"))).Within();
        Assert.All(served, t => Assert.Same(first, t));
        await gate.WaitForArrivalsAsync(1).Within();
        gate.Release();
        world.Server.UnholdTokens();

        var coordinator = manager.CoordinatorFor("billing")!;
        await WaitForAsync(() => coordinator.Statistics.Published >= 2).Within();
        Assert.NotSame(first, await manager.GetAccessTokenAsync("billing").Within());
        Assert.Equal(2, world.Server.TokenRequests);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Yield();
        }
    }
}
