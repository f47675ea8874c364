using System.Net;

namespace LockFree.Auth.Tests.Security;

/// <summary>
/// The cross-app access provider and handler against real servers: A (the MCP server and its authorization server),
/// B (another host) and an IdP on a third loopback address. Rules: <c>spec/security.md</c>.
/// </summary>
public sealed class CrossAppAdversaryTests : IAsyncLifetime
{
    private const string IdToken = "id-token-of-the-user-Jx7";
    private const string IdpSecret = "idp-secret-Qw2";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    private TwoOrigins _w = null!;
    private LoopbackOrigin _idpOrigin = null!;
    private LoopbackAuthorizationServer _idp = null!;

    public async Task InitializeAsync()
    {
        _w = await TwoOrigins.StartAsync();
        _idpOrigin = await LoopbackOrigin.StartAsync("127.0.0.3");
        _idp = new LoopbackAuthorizationServer(_idpOrigin, "IdP").Serve();
        _w.ServeBoth();
    }

    public async Task DisposeAsync()
    {
        await _w.DisposeAsync();
        await _idpOrigin.DisposeAsync();
    }

    private CrossApplicationAccessProvider CreateProvider(HttpClient backChannel, Action<CrossApplicationAccessProviderOptions>? configure = null)
    {
        var options = new CrossApplicationAccessProviderOptions
        {
            ClientId = TwoOrigins.ClientId,
            ClientSecret = TwoOrigins.ClientSecret,
            IdpTokenEndpoint = _idpOrigin.Origin + "/token",
            IdpClientId = "idp-client",
            IdpClientSecret = IdpSecret,
            IdTokenCallback = (_, _) => Task.FromResult(IdToken),
        };
        configure?.Invoke(options);
        return new CrossApplicationAccessProvider(options, backChannel);
    }

    private void AssertBReceivedNothingSecret()
    {
        _w.B.AssertNoAuthorizationHeader();
        _w.B.AssertReceivedNone(("client secret", TwoOrigins.ClientSecret), ("ID-JAG", "IdP-jag-"), ("ID token", IdToken), ("IdP secret", IdpSecret), ("access token", "A-at-"));
    }

    [Fact]
    public async Task Handler_RedirectToAnotherOrigin_NoTokenThere()
    {
        _w.A.Map("/mcp/moved", (context, _) => LoopbackOrigin.RedirectAsync(context, _w.B.Url("/mcp"), 307));
        _w.B.Map("/mcp", (context, _) => LoopbackOrigin.ChallengeAsync(context, $"Bearer resource_metadata=\"{_w.B.Origin}/prm\""));
        using var backChannel = new HttpClient();
        using var provider = CreateProvider(backChannel);
        using var http = new HttpClient(new CrossApplicationAccessHandler(provider, _w.McpUrl, backChannel, new SocketsHttpHandler()));
        await TwoOrigins.ExpectAsync(http, _w.McpUrl);

        using var moved = await http.GetAsync(_w.A.Url("/mcp/moved")).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.Unauthorized, moved.StatusCode);
        Assert.Single(_w.B.Requests);
        AssertBReceivedNothingSecret();
    }

    [Fact]
    public async Task Handler_RequestToAnotherOrigin_PassesThroughUntouched()
    {
        _w.B.Map("/unrelated", (context, _) => LoopbackOrigin.ChallengeAsync(context, $"Bearer resource_metadata=\"{_w.B.Origin}/prm\""));
        using var backChannel = new HttpClient();
        using var provider = CreateProvider(backChannel);
        using var http = new HttpClient(new CrossApplicationAccessHandler(provider, _w.McpUrl, backChannel, new SocketsHttpHandler()));
        await TwoOrigins.ExpectAsync(http, _w.McpUrl);

        using var other = await http.GetAsync(_w.B.Url("/unrelated")).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
        Assert.Single(_w.B.Requests);
        AssertBReceivedNothingSecret();
    }

    [Fact]
    public async Task Handler_HintOnAnotherOrigin_IgnoredAndNothingSentThere()
    {
        _w.A.Map("/mcp", (context, request) =>
            request.Authorization is { } auth && _w.AsA.Accepts(auth[7..])
                ? LoopbackOrigin.WriteJsonAsync(context, new { ok = true })
                : LoopbackOrigin.ChallengeAsync(context, $"Bearer resource_metadata=\"{_w.B.Origin}/prm\""));
        _w.B.MapJson("/prm", new Dictionary<string, object> { ["resource"] = _w.McpUrl.AbsoluteUri, ["authorization_servers"] = new[] { _w.AsB.Issuer } });
        _w.A.Map("/.well-known/oauth-protected-resource/mcp", (context, _) => { context.Response.StatusCode = 404; return Task.CompletedTask; });
        using var backChannel = new HttpClient();
        using var provider = CreateProvider(backChannel);
        using var http = new HttpClient(new CrossApplicationAccessHandler(provider, _w.McpUrl, backChannel, new SocketsHttpHandler()));

        using var response = await http.GetAsync(_w.McpUrl).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode); // the only lead was the foreign hint
        Assert.Empty(_w.B.Requests);
        Assert.Empty(_idpOrigin.Requests);
    }

    [Fact]
    public async Task ResourceSwitchesToAnotherAuthorizationServer_UntrustedAndNoSecretOrIdJagSent()
    {
        using var backChannel = new HttpClient();
        using var provider = CreateProvider(backChannel);
        using var http = new HttpClient(new CrossApplicationAccessHandler(provider, _w.McpUrl, backChannel, new SocketsHttpHandler()));
        await TwoOrigins.ExpectAsync(http, _w.McpUrl);

        var exchanges = _idp.TokenRequests;
        _w.NamedAuthorizationServer = _w.AsB.Issuer;
        _w.AsA.ResourceAcceptsTokens = false;
        var ex = await Assert.ThrowsAsync<CrossApplicationAccessException>(() => http.GetAsync(_w.McpUrl).WaitAsync(Bound));

        Assert.Equal(OAuthFailureReason.UntrustedAuthorizationServer, ex.Reason);
        Assert.Empty(_w.B.Requests);
        Assert.Equal(exchanges, _idp.TokenRequests); // no ID-JAG was even requested for B's audience
        _idpOrigin.AssertReceivedNone(("B as audience", _w.AsB.Issuer));
    }

    [Fact]
    public async Task Provider_UntrustedAuthorizationServerPassedByCaller_RefusedWithoutAnyRequest()
    {
        using var backChannel = new HttpClient();
        using var provider = CreateProvider(backChannel, o => o.TrustedAuthorizationServers = [new Uri(_w.AsA.Issuer)]);

        var ex = await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(_w.McpUrl, new Uri(_w.AsB.Issuer)).WaitAsync(Bound));

        Assert.Equal(OAuthFailureReason.UntrustedAuthorizationServer, ex.Reason);
        Assert.Empty(_w.B.Requests);
        Assert.Empty(_idpOrigin.Requests);
    }

    [Fact]
    public async Task Handler_MalformedChallenge_ReturnsThe401NoException()
    {
        _w.A.Map("/mcp", (context, _) => LoopbackOrigin.ChallengeAsync(context, "Bearer resource_metadata=\"unterminated, realm=="));
        using var backChannel = new HttpClient();
        using var provider = CreateProvider(backChannel);
        using var http = new HttpClient(new CrossApplicationAccessHandler(provider, _w.McpUrl, backChannel, new SocketsHttpHandler()));

        using var response = await http.GetAsync(_w.McpUrl).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Handler_RejectedToken_ReplacedResponseDisposed()
    {
        using var backChannel = new HttpClient();
        using var provider = CreateProvider(backChannel);
        var tracking = new ResponseTrackingHandler(new SocketsHttpHandler());
        using var http = new HttpClient(new CrossApplicationAccessHandler(provider, _w.McpUrl, backChannel, tracking));
        await TwoOrigins.ExpectAsync(http, _w.McpUrl);

        _w.AsA.ResourceAcceptsTokens = false;
        using var rejected = await http.GetAsync(_w.McpUrl).WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
        var responses = tracking.Responses;
        Assert.Equal(3, responses.Count);
        Assert.True(responses[1].IsDisposed, "the 401 that was replayed was not disposed");
        Assert.False(responses[2].IsDisposed);
    }

    [Fact]
    public async Task Dispose_NewKeyFailsWithObjectDisposedAndSendsNothing()
    {
        using var backChannel = new HttpClient();
        var provider = CreateProvider(backChannel, o => o.TrustedAuthorizationServers = [new Uri(_w.AsA.Issuer), new Uri(_w.AsB.Issuer)]);
        await provider.GetAccessTokenAsync(_w.McpUrl, new Uri(_w.AsA.Issuer)).WaitAsync(Bound);
        var before = _w.A.Requests.Count + _idpOrigin.Requests.Count;
        provider.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => provider.GetAccessTokenAsync(_w.A.Url("/other"), new Uri(_w.AsB.Issuer)).WaitAsync(Bound));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => provider.GetAccessTokenAsync(_w.McpUrl, new Uri(_w.AsA.Issuer)).WaitAsync(Bound));
        Assert.Equal(before, _w.A.Requests.Count + _idpOrigin.Requests.Count);
        Assert.Empty(_w.B.Requests);
    }
}
