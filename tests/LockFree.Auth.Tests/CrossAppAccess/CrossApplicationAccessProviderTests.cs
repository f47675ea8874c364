using System.Net;
using System.Text;
using LockFree.Auth.Testing;

namespace LockFree.Auth.Tests.CrossAppAccess;

public sealed class CrossApplicationAccessProviderTests
{
    private readonly CrossAppFixture _world = new();

    [Fact]
    public async Task GetAccessTokenAsync_ColdCache_RunsDiscoveryExchangeAndJwtBearerWithSpecParameters()
    {
        using var provider = _world.CreateProvider(o => { o.Scope = "mcp:read"; o.IdpScope = "openid"; });

        var token = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.Equal("as-access-1", token.AccessToken);
        Assert.Equal("Bearer", token.TokenType);
        Assert.Equal(TimeSpan.FromHours(1), token.ExpiresIn);
        Assert.Equal(_world.Time.GetUtcNow(), token.ObtainedAt);

        var context = Assert.Single(_world.Contexts);
        Assert.Equal(_world.ResourceUri, context.ResourceUrl);
        Assert.Equal(_world.AsUri, context.AuthorizationServerUrl);

        var exchange = Assert.Single(_world.Idp.TokenRequestsReceived);
        Assert.Equal("urn:ietf:params:oauth:grant-type:token-exchange", exchange["grant_type"]);
        Assert.Equal("urn:ietf:params:oauth:token-type:id-jag", exchange["requested_token_type"]);
        Assert.Equal(CrossAppFixture.IdToken, exchange["subject_token"]);
        Assert.Equal("urn:ietf:params:oauth:token-type:id_token", exchange["subject_token_type"]);
        Assert.Equal("https://as.example.com", exchange["audience"]);
        Assert.Equal(CrossAppFixture.Resource, exchange["resource"]);
        Assert.Equal("openid", exchange["scope"]);
        Assert.Equal("idp-client:" + CrossAppFixture.IdpClientSecret, DecodeBasic(exchange.Authorization));

        var grant = Assert.Single(_world.As.TokenRequestsReceived);
        Assert.Equal("urn:ietf:params:oauth:grant-type:jwt-bearer", grant["grant_type"]);
        Assert.Equal("idp-idjag-1", grant["assertion"]);
        Assert.Equal("mcp:read", grant["scope"]);
        Assert.Equal("mcp-client:" + CrossAppFixture.ClientSecret, DecodeBasic(grant.Authorization));
        Assert.Equal(1, _world.As.MetadataRequests);
        Assert.Equal(0, _world.Idp.MetadataRequests);
    }

    [Fact]
    public async Task GetAccessTokenAsync_IdpUrlConfigured_DiscoversIdpTokenEndpointOnce()
    {
        _world.Idp.TokenEndpoint = CrossAppFixture.IdpIssuer + "/oauth2/v1/token";
        _world.Handler.On(HttpMethod.Post, _world.Idp.TokenEndpoint, _ => FakeResponses.Json(
            """{"access_token":"jag-x","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag","expires_in":300}"""));
        using var provider = _world.CreateProvider(o => { o.IdpTokenEndpoint = null; o.IdpUrl = CrossAppFixture.IdpIssuer; });

        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        await provider.GetAccessTokenAsync(new Uri("https://other.example.com/mcp"), _world.AsUri).Within();

        Assert.Equal(1, _world.Idp.MetadataRequests);
        Assert.Equal(2, _world.Handler.CountOf(_world.Idp.TokenEndpoint));
        Assert.All(_world.As.TokenRequestsReceived, r => Assert.Equal("jag-x", r["assertion"]));
    }

    [Fact]
    public async Task GetAccessTokenAsync_IssuerWithPath_UsesPathInsertionAndIssuerAsAudience()
    {
        var tenant = new FakeOAuthServer(_world.Handler, "https://as.example.com/tenants/42", "tenant");
        using var provider = _world.CreateProvider();

        var token = await provider.GetAccessTokenAsync(_world.ResourceUri, new Uri("https://as.example.com/tenants/42")).Within();

        Assert.Equal("tenant-access-1", token.AccessToken);
        Assert.Equal(1, tenant.MetadataRequests);
        Assert.Equal("https://as.example.com/tenants/42", Assert.Single(_world.Idp.TokenRequestsReceived)["audience"]);
    }

    [Fact]
    public async Task GetAccessTokenAsync_ServerSupportsOnlyPost_NegotiatesClientSecretPost()
    {
        _world.As.AuthMethodsSupported = ["client_secret_post"];
        using var provider = _world.CreateProvider();

        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        var grant = Assert.Single(_world.As.TokenRequestsReceived);
        Assert.Null(grant.Authorization);
        Assert.Equal("mcp-client", grant["client_id"]);
        Assert.Equal(CrossAppFixture.ClientSecret, grant["client_secret"]);
    }

    [Fact]
    public async Task GetAccessTokenAsync_ConfiguredMethod_WinsOverNegotiation()
    {
        using var provider = _world.CreateProvider(o => { o.TokenEndpointAuthMethod = "client_secret_post"; o.IdpTokenEndpointAuthMethod = "client_secret_post"; });

        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.Equal(CrossAppFixture.ClientSecret, Assert.Single(_world.As.TokenRequestsReceived)["client_secret"]);
        Assert.Equal(CrossAppFixture.IdpClientSecret, Assert.Single(_world.Idp.TokenRequestsReceived)["client_secret"]);
    }

    [Fact]
    public async Task GetAccessTokenAsync_ClientSecretJwtConfigured_BothServersVerifyAnHmacAssertion_NoSecretSent()
    {
        const string asSecret = "as-jwt-SECRET-0123456789-abcdefghijklmn";
        const string idpSecret = "idp-jwt-SECRET-0123456789-abcdefghijklm";
        var asVerifier = new ClientCredentials.ClientSecretJwtVerifier(asSecret, "mcp-client", CrossAppFixture.AsIssuer, _world.Time);
        var idpVerifier = new ClientCredentials.ClientSecretJwtVerifier(idpSecret, "idp-client", CrossAppFixture.IdpIssuer + "/token", _world.Time);
        _world.As.TokenResponder = asVerifier.Respond;
        _world.Idp.TokenResponder = idpVerifier.Respond;
        using var provider = _world.CreateProvider(o =>
        {
            (o.ClientSecret, o.TokenEndpointAuthMethod) = (asSecret, "client_secret_jwt");
            (o.IdpClientSecret, o.IdpTokenEndpointAuthMethod) = (idpSecret, "client_secret_jwt");
        });

        var token = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.Equal("as-access-1", token.AccessToken);
        Assert.Empty(asVerifier.Rejections);
        Assert.Empty(idpVerifier.Rejections);
        Assert.Equal((1, 1), (asVerifier.Accepted, idpVerifier.Accepted));
        var assertions = _world.As.TokenRequestsReceived.Concat(_world.Idp.TokenRequestsReceived).Select(r => r["client_assertion"]!).ToArray();
        Assert.Equal(2, assertions.Length);
        Assert.NotEmpty(_world.Logs.Messages);
        Assert.All(_world.Logs.Messages, m =>
        {
            Assert.DoesNotContain("jwt-SECRET", m, StringComparison.Ordinal);
            Assert.All(assertions, a => Assert.DoesNotContain(a.Split('.')[2], m, StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task GetAccessTokenAsync_PublicClients_SendClientIdOnly()
    {
        using var provider = _world.CreateProvider(o => { o.ClientSecret = null; o.IdpClientSecret = null; });

        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        var grant = Assert.Single(_world.As.TokenRequestsReceived);
        Assert.Null(grant.Authorization);
        Assert.Equal("mcp-client", grant["client_id"]);
        Assert.Null(grant["client_secret"]);
        Assert.Equal("idp-client", Assert.Single(_world.Idp.TokenRequestsReceived)["client_id"]);
    }

    [Fact]
    public async Task GetAccessTokenAsync_Cached_ReturnsSameInstanceWithoutRequests()
    {
        using var provider = _world.CreateProvider();
        var first = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var requests = _world.Handler.TotalRequests;

        var again = provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri);
        var equalUris = provider.GetAccessTokenAsync(new Uri(CrossAppFixture.Resource), new Uri(CrossAppFixture.AsIssuer));

        Assert.True(again.IsCompletedSuccessfully);
        Assert.Same(first, await again.Within());
        Assert.Same(first, await equalUris.Within());
        Assert.Equal(requests, _world.Handler.TotalRequests);
        Assert.Equal(1, _world.Callbacks);
    }

    [Fact]
    public async Task GetAccessTokenAsync_CachedFastPath_AllocatesNothing()
    {
        using var provider = _world.CreateProvider();
        var resource = _world.ResourceUri;
        var server = _world.AsUri;
        await provider.GetAccessTokenAsync(resource, server).Within();
        _ = provider.GetAccessTokenAsync(resource, server); // warm up

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            _ = provider.GetAccessTokenAsync(resource, server);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task GetAccessTokenAsync_CachedWithEqualUriInstances_AllocatesNothing()
    {
        using var provider = _world.CreateProvider();
        var resources = Enumerable.Range(0, 100).Select(_ => new Uri(CrossAppFixture.Resource)).ToArray();
        var servers = Enumerable.Range(0, 100).Select(_ => new Uri(CrossAppFixture.AsIssuer)).ToArray();
        var first = await provider.GetAccessTokenAsync(resources[0], servers[0]).Within();
        _ = provider.GetAccessTokenAsync(resources[1], servers[1]); // warm up

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < resources.Length; i++)
        {
            _ = provider.GetAccessTokenAsync(resources[i], servers[i]);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Same(first, await provider.GetAccessTokenAsync(resources[^1], servers[^1]).Within());
    }

    [Fact]
    public async Task GetAccessTokenAsync_DifferentResources_SeparateTokensSharedMetadata()
    {
        using var provider = _world.CreateProvider();
        var other = new Uri("https://other.example.com/mcp");

        var a = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var b = await provider.GetAccessTokenAsync(other, _world.AsUri).Within();
        var a2 = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.NotEqual(a.AccessToken, b.AccessToken);
        Assert.Same(a, a2);
        Assert.Equal(1, _world.As.MetadataRequests);
        Assert.Equal([CrossAppFixture.Resource, "https://other.example.com/mcp"], _world.Idp.TokenRequestsReceived.Select(r => r["resource"]));
    }

    [Fact]
    public async Task GetAccessTokenAsync_DifferentAuthorizationServers_SeparateKeys()
    {
        var second = new FakeOAuthServer(_world.Handler, "https://as2.example.com", "as2");
        using var provider = _world.CreateProvider(o => o.TrustedAuthorizationServers = [_world.AsUri, new Uri("https://as2.example.com")]);

        var a = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var b = await provider.GetAccessTokenAsync(_world.ResourceUri, new Uri("https://as2.example.com")).Within();

        Assert.Equal("as-access-1", a.AccessToken);
        Assert.Equal("as2-access-1", b.AccessToken);
        Assert.Equal(["https://as.example.com", "https://as2.example.com"], _world.Idp.TokenRequestsReceived.Select(r => r["audience"]));
    }

    [Fact]
    public async Task GetAccessTokenAsync_SecondAuthorizationServerWithoutTrustList_RefusedBeforeAnyRequest()
    {
        _ = new FakeOAuthServer(_world.Handler, "https://as2.example.com", "as2");
        using var provider = _world.CreateProvider();
        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var idpRequests = _world.Idp.TokenRequestsReceived.Count;

        var ex = await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(_world.ResourceUri, new Uri("https://as2.example.com")));

        Assert.Equal(OAuthFailureReason.UntrustedAuthorizationServer, ex.Reason);
        Assert.Equal(idpRequests, _world.Idp.TokenRequestsReceived.Count);
        Assert.Equal(0, _world.Handler.CountOf("https://as2.example.com/.well-known/oauth-authorization-server"));
    }

    [Fact]
    public async Task GetAccessTokenAsync_OneKeyHeld_OtherKeyNeverWaits()
    {
        using var provider = _world.CreateProvider();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _world.CallbackOverride = async (context, ct) =>
        {
            if (context.ResourceUrl == _world.ResourceUri) { await gate.Task.WaitAsync(ct); }
            return CrossAppFixture.IdToken;
        };

        var held = provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri);
        var other = await provider.GetAccessTokenAsync(new Uri("https://other.example.com/mcp"), _world.AsUri).Within();

        Assert.False(held.IsCompleted);
        Assert.Equal("as-access-1", other.AccessToken);
        gate.SetResult();
        Assert.Equal("as-access-2", (await held.Within()).AccessToken);
    }

    [Fact]
    public async Task GetAccessTokenAsync_TokenExpires_NeverReturnedAfterExpiry()
    {
        using var provider = _world.CreateProvider();
        var first = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        _world.Time.Advance(TimeSpan.FromHours(1));
        var second = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.NotSame(first, second);
        Assert.Equal("as-access-2", second.AccessToken);
        Assert.True(second.ExpiresAt > _world.Time.GetUtcNow());
    }

    [Fact]
    public async Task GetAccessTokenAsync_InsideRefreshAheadWindow_ServesCachedAndRefreshesOnce()
    {
        using var provider = _world.CreateProvider();
        var first = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        // Lifetime 1 h: skew min(30 s, 6 min) = 30 s, refresh-ahead min(2 min, 12 min) = 2 min before expiry.
        _world.Time.Advance(TimeSpan.FromMinutes(58) + TimeSpan.FromSeconds(30));
        var gate = _world.As.HoldTokens();
        var during = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        var duringAgain = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        await gate.WaitForArrivalsAsync(1).Within();
        var refresh = provider.CoordinatorFor(_world.ResourceUri, _world.AsUri).Current.Pending!.Task;
        gate.Release();
        await refresh.Within();
        var after = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.Same(first, during);
        Assert.Same(first, duringAgain);
        Assert.Equal("as-access-2", after.AccessToken);
        Assert.Equal(2, _world.Callbacks);
        Assert.Equal(2, _world.As.TokenRequests);
    }

    private static string? DecodeBasic(string? authorization) =>
        authorization is null ? null : Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..]));
}
