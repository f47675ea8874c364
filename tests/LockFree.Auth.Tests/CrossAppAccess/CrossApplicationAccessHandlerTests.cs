using System.Net;
using System.Text.Json;
using LockFree.Auth.Testing;

namespace LockFree.Auth.Tests.CrossAppAccess;

/// <summary>
/// <see cref="CrossApplicationAccessHandler"/> against the in-memory world of <see cref="CrossAppFixture"/> plus a
/// protected resource (the MCP server) that accepts the tokens a test allows and otherwise answers a 401 challenge.
/// </summary>
public sealed class CrossApplicationAccessHandlerTests
{
    private const string ServerUrl = CrossAppFixture.Resource; // https://mcp.example.com/mcp
    private const string WellKnownMetadata = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
    private const string CustomMetadata = "https://mcp.example.com/meta/resource.json";

    private readonly CrossAppFixture _world = new();
    private readonly HashSet<string> _accepted = [];
    private readonly List<string?> _seen = [];

    public CrossApplicationAccessHandlerTests()
    {
        _world.Handler.On(HttpMethod.Post, ServerUrl, request =>
        {
            var token = request.Authorization is { } header && header.StartsWith("Bearer ", StringComparison.Ordinal) ? header[7..] : null;
            bool accepted;
            lock (_accepted)
            {
                _seen.Add(token);
                accepted = token is not null && _accepted.Contains(token);
            }

            if (accepted)
            {
                return FakeResponses.Json("""{"ok":true}""");
            }

            var response = FakeResponses.Json("""{"error":"invalid_token"}""", HttpStatusCode.Unauthorized);
            response.Headers.TryAddWithoutValidation("WWW-Authenticate", $"Bearer error=\"invalid_token\", resource_metadata=\"{ChallengeMetadata}\"");
            return response;
        });
    }

    /// <summary>What the resource's challenges name as <c>resource_metadata</c>.</summary>
    private string ChallengeMetadata { get; set; } = WellKnownMetadata;

    [Fact]
    public async Task SendAsync_ResourcePublishesMetadata_AttachesTokenForItsResourceAndAuthorizationServer()
    {
        ServeMetadata(WellKnownMetadata, CrossAppFixture.Resource, CrossAppFixture.AsIssuer);
        Accept("as-access-1");
        using var provider = _world.CreateProvider();
        using var client = CreateClient(provider);

        using var response = await client.PostAsync(ServerUrl, new StringContent("{}")).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["as-access-1"], Seen());
        Assert.Equal(1, _world.Handler.CountOf(WellKnownMetadata));
        var exchange = Assert.Single(_world.Idp.TokenRequestsReceived);
        Assert.Equal(CrossAppFixture.Resource, exchange["resource"]);
        Assert.Equal(CrossAppFixture.AsIssuer, exchange["audience"]);
    }

    [Fact]
    public async Task SendAsync_MetadataOnlyNamedInChallenge_SendsWithoutTokenThenFollowsResourceMetadata()
    {
        ChallengeMetadata = CustomMetadata;
        ServeMetadata(CustomMetadata, CrossAppFixture.Resource, CrossAppFixture.AsIssuer);
        Accept("as-access-1");
        using var provider = _world.CreateProvider();
        using var client = CreateClient(provider);

        using var first = await client.PostAsync(ServerUrl, new StringContent("{\"id\":1}")).Within();
        using var second = await client.PostAsync(ServerUrl, new StringContent("{\"id\":2}")).Within();

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal([null, "as-access-1", "as-access-1"], Seen());
        Assert.Equal(1, _world.Handler.CountOf(CustomMetadata));
        Assert.Equal(1, _world.As.TokenRequests);
        var replayed = _world.Handler.RequestsTo(ServerUrl)[1];
        Assert.Equal("{\"id\":1}", replayed.Body); // the buffered content is sent again
    }

    [Fact]
    public async Task SendAsync_TokenRejected_RetiresItAndReplaysOnceWithANewToken()
    {
        ServeMetadata(WellKnownMetadata, CrossAppFixture.Resource, CrossAppFixture.AsIssuer);
        Accept("as-access-2");
        using var provider = _world.CreateProvider();
        using var client = CreateClient(provider);

        using var response = await client.PostAsync(ServerUrl, new StringContent("{}")).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["as-access-1", "as-access-2"], Seen());
        Assert.Equal(2, _world.As.TokenRequests);
    }

    [Fact]
    public async Task SendAsync_EveryTokenRejected_ReturnsTheSecond401WithoutLooping()
    {
        ServeMetadata(WellKnownMetadata, CrossAppFixture.Resource, CrossAppFixture.AsIssuer);
        using var provider = _world.CreateProvider();
        using var client = CreateClient(provider);

        using var response = await client.PostAsync(ServerUrl, new StringContent("{}")).Within();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(2, Seen().Count);
        Assert.Equal(2, _world.As.TokenRequests);
    }

    [Fact]
    public async Task SendAsync_NoMetadataAnywhere_ReturnsThe401WithoutRequestingATokenOrRetrying()
    {
        using var provider = _world.CreateProvider();
        using var client = CreateClient(provider);

        using var response = await client.PostAsync(ServerUrl, new StringContent("{}")).Within();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal([null], Seen());
        Assert.Equal(0, _world.Callbacks);
        Assert.Equal(0, _world.Idp.TokenRequests);
    }

    [Fact]
    public async Task SendAsync_MetadataForAnotherResource_ThrowsAndRequestsNoToken()
    {
        ServeMetadata(WellKnownMetadata, "https://evil.example.com/mcp", CrossAppFixture.AsIssuer);
        using var provider = _world.CreateProvider();
        using var client = CreateClient(provider);

        var error = await Assert.ThrowsAsync<OAuthException>(() => client.PostAsync(ServerUrl, new StringContent("{}")));

        Assert.Equal(OAuthFailureReason.InvalidInput, error.Reason);
        Assert.Equal(0, _world.Callbacks);
        Assert.Equal(0, _world.Idp.TokenRequests);
        Assert.Empty(Seen());
    }

    [Fact]
    public async Task SendAsync_ResourceMovedToAnotherAuthorizationServer_RereadsMetadataAndUsesTheNewServer()
    {
        var as2 = new FakeOAuthServer(_world.Handler, "https://as2.example.com", "as2");
        var moved = false;
        _world.Handler.On(HttpMethod.Get, WellKnownMetadata, _ => FakeResponses.Json(MetadataJson(
            CrossAppFixture.Resource, Volatile.Read(ref moved) ? as2.Issuer : CrossAppFixture.AsIssuer)));
        Accept("as-access-1");
        using var provider = _world.CreateProvider(o => o.TrustedAuthorizationServers = [new Uri(CrossAppFixture.AsIssuer), new Uri(as2.Issuer)]);
        using var client = CreateClient(provider);
        using (var before = await client.PostAsync(ServerUrl, new StringContent("{}")).Within())
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        Volatile.Write(ref moved, true);
        lock (_accepted) { _accepted.Clear(); _accepted.Add("as2-access-1"); }
        using var after = await client.PostAsync(ServerUrl, new StringContent("{}")).Within();

        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(["as-access-1", "as-access-1", "as2-access-1"], Seen());
        Assert.Equal(2, _world.Handler.CountOf(WellKnownMetadata));
        Assert.Equal(as2.Issuer, _world.Idp.TokenRequestsReceived[^1]["audience"]);
    }

    [Fact]
    public async Task SendAsync_ConcurrentColdRequests_ShareOneDiscoveryAndOneExchange()
    {
        ServeMetadata(WellKnownMetadata, CrossAppFixture.Resource, CrossAppFixture.AsIssuer);
        Accept("as-access-1");
        var gate = _world.Handler.Hold(WellKnownMetadata);
        using var provider = _world.CreateProvider();
        using var client = CreateClient(provider);

        var requests = Enumerable.Range(0, 64).Select(i => client.PostAsync(ServerUrl, new StringContent($"{{\"id\":{i}}}"))).ToArray();
        await gate.WaitForArrivalsAsync(1).Within();
        gate.Release();
        var responses = await Task.WhenAll(requests).Within();

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in responses) { r.Dispose(); }
        Assert.Equal(1, _world.Handler.CountOf(WellKnownMetadata));
        Assert.Equal(1, _world.Callbacks);
        Assert.Equal(1, _world.Idp.TokenRequests);
        Assert.Equal(1, _world.As.TokenRequests);
    }

    [Fact]
    public async Task SendAsync_ConcurrentRequestsRejectingTheSameToken_CauseOneNewExchange()
    {
        ServeMetadata(WellKnownMetadata, CrossAppFixture.Resource, CrossAppFixture.AsIssuer);
        Accept("as-access-1");
        using var provider = _world.CreateProvider();
        using var client = CreateClient(provider);
        (await client.PostAsync(ServerUrl, new StringContent("{}")).Within()).Dispose();
        lock (_accepted) { _accepted.Clear(); _accepted.Add("as-access-2"); }

        var responses = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => client.PostAsync(ServerUrl, new StringContent("{}")))).Within();

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in responses) { r.Dispose(); }
        Assert.Equal(2, _world.As.TokenRequests);
    }

    [Fact]
    public async Task ResourceMetadata_DiscoveredByTheProvider_CoalescedAndCachedPerLocation()
    {
        ServeMetadata(WellKnownMetadata, CrossAppFixture.Resource, CrossAppFixture.AsIssuer);
        using var provider = _world.CreateProvider();
        var backChannel = provider.CreateBackChannel(_world.Handler.CreateClient());
        var server = new Uri(ServerUrl);

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => provider.GetResourceMetadataAsync(backChannel, server, "", CancellationToken.None))).Within();

        Assert.All(concurrent, d => Assert.Same(concurrent[0], d));
        Assert.Equal(CrossAppFixture.AsIssuer, Assert.Single(concurrent[0].Metadata!.AuthorizationServers).OriginalString.TrimEnd('/'));
        Assert.Equal(1, _world.Handler.CountOf(WellKnownMetadata));

        // A 401 retires it only if it is still the one the request used; then it is read again.
        provider.RetireResourceMetadata(backChannel, server, "", concurrent[0]);
        var again = await provider.GetResourceMetadataAsync(backChannel, server, "", CancellationToken.None).Within();
        Assert.NotSame(concurrent[0], again);
        provider.RetireResourceMetadata(backChannel, server, "", concurrent[0]); // stale: keeps the newer one
        Assert.Same(again, await provider.GetResourceMetadataAsync(backChannel, server, "", CancellationToken.None).Within());
        Assert.Equal(2, _world.Handler.CountOf(WellKnownMetadata));
    }

    [Fact]
    public async Task ResourceMetadata_HintOnAnotherOrigin_ProviderIgnoresItAndUsesTheWellKnownLocations()
    {
        // T6 holds in the provider too, whoever passes the hint.
        const string Elsewhere = "https://attacker.example.com/.well-known/oauth-protected-resource";
        ServeMetadata(Elsewhere, CrossAppFixture.Resource, "https://attacker.example.com");
        ServeMetadata(WellKnownMetadata, CrossAppFixture.Resource, CrossAppFixture.AsIssuer);
        using var provider = _world.CreateProvider();
        var backChannel = provider.CreateBackChannel(_world.Handler.CreateClient());

        var discovery = await provider.GetResourceMetadataAsync(backChannel, new Uri(ServerUrl), Elsewhere, CancellationToken.None).Within();

        Assert.Equal(0, _world.Handler.CountOf(Elsewhere));
        Assert.Equal(CrossAppFixture.AsIssuer, Assert.Single(discovery.Metadata!.AuthorizationServers).OriginalString.TrimEnd('/'));
    }

    [Fact]
    public void Constructor_RelativeServerUrl_Throws()
    {
        using var provider = _world.CreateProvider();
        Assert.Throws<ArgumentException>(() => new CrossApplicationAccessHandler(provider, new Uri("/mcp", UriKind.Relative), _world.Handler.CreateClient()));
    }

    private HttpClient CreateClient(CrossApplicationAccessProvider provider) =>
        new(new CrossApplicationAccessHandler(provider, new Uri(ServerUrl), _world.Handler.CreateClient(), _world.Handler));

    private void ServeMetadata(string url, string resource, string authorizationServer) =>
        _world.Handler.On(HttpMethod.Get, url, _ => FakeResponses.Json(MetadataJson(resource, authorizationServer)));

    private static string MetadataJson(string resource, string authorizationServer) =>
        JsonSerializer.Serialize(new Dictionary<string, object> { ["resource"] = resource, ["authorization_servers"] = new[] { authorizationServer } });

    private void Accept(string token)
    {
        lock (_accepted) { _accepted.Add(token); }
    }

    private List<string?> Seen()
    {
        lock (_accepted) { return [.. _seen]; }
    }
}
