using System.Diagnostics;

namespace LockFree.Auth.Tests.Security;

/// <summary>
/// The deadline of one whole back-channel operation against real slow servers: a body trickled one byte at a time,
/// or headers that never come, end with <see cref="OAuthFailureReason.Unreachable"/> at the deadline; the caller's
/// cancellation still surfaces as <see cref="OperationCanceledException"/>.
/// </summary>
public sealed class BackChannelDeadlineTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Trickle = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task MetadataGet_BodyTrickled_UnreachableAtTheDeadline()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapTrickle("/.well-known/oauth-authorization-server", Trickle);
        using var http = new HttpClient();
        var backChannel = new BackChannel(http, TimeProvider.System, OAuthHttp.DefaultMaxResponseBytes, Deadline);
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<OAuthException>(() => backChannel.GetAsync(origin.Url("/.well-known/oauth-authorization-server"), "metadata endpoint", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        AssertDeadline(ex, clock.Elapsed);
        Assert.Equal(System.Net.HttpStatusCode.OK, ex.StatusCode); // the headers came; the body did not
    }

    [Fact]
    public async Task Discovery_MetadataBodyTrickled_UnreachableAtTheDeadline()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapTrickle("/.well-known/oauth-authorization-server", Trickle);
        using var http = new HttpClient();
        using var discovery = new AuthorizationServerDiscovery(new BackChannel(http, TimeProvider.System, OAuthHttp.DefaultMaxResponseBytes, Deadline));
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<OAuthException>(() => discovery.GetAsync(new Uri(origin.Origin), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        AssertDeadline(ex, clock.Elapsed);
    }

    [Fact]
    public async Task TokenExchange_BodyTrickled_UnreachableAtTheDeadline()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapTrickle("/token", Trickle);
        using var http = new HttpClient();
        var client = new TokenEndpointClient(new BackChannel(http, TimeProvider.System, OAuthHttp.DefaultMaxResponseBytes, Deadline));
        var request = new TokenRequest
        {
            Endpoint = origin.Url("/token"),
            Parameters = [new("grant_type", "client_credentials")],
            Authentication = ClientAuthentication.Create("client_secret_post", "client", RedirectScenario.ClientSecret),
        };
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<OAuthException>(() => client.RequestAsync(request, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        AssertDeadline(ex, clock.Elapsed);
        Assert.DoesNotContain(RedirectScenario.ClientSecret, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenExchange_HeadersNeverCome_UnreachableAtTheDeadline()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapSlowHeaders("/token", TimeSpan.FromSeconds(30));
        using var http = new HttpClient();
        var client = new TokenEndpointClient(new BackChannel(http, TimeProvider.System, OAuthHttp.DefaultMaxResponseBytes, Deadline));
        var request = new TokenRequest
        {
            Endpoint = origin.Url("/token"),
            Parameters = [new("grant_type", "client_credentials")],
            Authentication = ClientAuthentication.Create("client_secret_basic", "client", RedirectScenario.ClientSecret),
        };
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<OAuthException>(() => client.RequestAsync(request, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        AssertDeadline(ex, clock.Elapsed);
        Assert.Null(ex.StatusCode);
    }

    [Fact]
    public async Task CallerCancelsBeforeTheDeadline_OperationCanceledWithTheCallersToken()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapSlowHeaders("/slow", TimeSpan.FromSeconds(30));
        using var http = new HttpClient();
        var backChannel = new BackChannel(http, TimeProvider.System, OAuthHttp.DefaultMaxResponseBytes, TimeSpan.FromMinutes(10));
        using var caller = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => backChannel.GetAsync(origin.Url("/slow"), "metadata endpoint", caller.Token).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(caller.Token, ex.CancellationToken);
    }

    [Fact]
    public async Task CallerCancelsWhileBodyTrickles_OperationCanceledWithTheCallersToken()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapTrickle("/slow", Trickle);
        using var http = new HttpClient();
        var backChannel = new BackChannel(http, TimeProvider.System, OAuthHttp.DefaultMaxResponseBytes, TimeSpan.FromMinutes(10));
        using var caller = new CancellationTokenSource(TimeSpan.FromMilliseconds(700));

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => backChannel.GetAsync(origin.Url("/slow"), "metadata endpoint", caller.Token).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(caller.Token, ex.CancellationToken);
    }

    [Fact]
    public async Task ClientOAuthProvider_BackChannelTimeoutOption_AppliesToDiscovery()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapTrickle("/.well-known/oauth-protected-resource/mcp", Trickle);
        using var http = new HttpClient();
        using var provider = new ClientOAuthProvider(origin.Url("/mcp"), new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = "client",
            ClientSecret = RedirectScenario.ClientSecret,
            BackChannelTimeout = Deadline,
        }, http);
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAnyAsync<OAuthException>(() => provider.GetTokensAsync().WaitAsync(TimeSpan.FromSeconds(10)));

        AssertDeadline(ex, clock.Elapsed);
    }

    [Fact]
    public async Task CrossApplicationAccessProvider_BackChannelTimeoutOption_AppliesToTheTokenExchange()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapJson("/.well-known/oauth-authorization-server/as", new { issuer = origin.Url("/as").AbsoluteUri, token_endpoint = origin.Url("/as/token").AbsoluteUri });
        origin.MapTrickle("/idp/token", Trickle);
        using var http = new HttpClient();
        using var provider = new CrossApplicationAccessProvider(new CrossApplicationAccessProviderOptions
        {
            ClientId = "client",
            IdpClientId = "idp-client",
            IdpTokenEndpoint = origin.Url("/idp/token").AbsoluteUri,
            IdTokenCallback = (_, _) => Task.FromResult(RedirectScenario.IdToken),
            BackChannelTimeout = Deadline,
        }, http);
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAnyAsync<OAuthException>(() => provider.GetAccessTokenAsync(origin.Url("/mcp"), origin.Url("/as")).WaitAsync(TimeSpan.FromSeconds(10)));

        AssertDeadline(ex, clock.Elapsed);
        Assert.DoesNotContain(RedirectScenario.IdToken, ex.ToString(), StringComparison.Ordinal);
    }

    private static void AssertDeadline(OAuthException ex, TimeSpan elapsed)
    {
        Assert.True(ex.Reason == OAuthFailureReason.Unreachable, $"Expected Unreachable, got {ex.Reason}: {ex.Message}");
        Assert.Contains("deadline", ex.Message, StringComparison.Ordinal);
        Assert.True(elapsed >= Deadline - TimeSpan.FromMilliseconds(50), $"Failed after {elapsed}, before the deadline of {Deadline}.");
        Assert.True(elapsed < Limit, $"Failed only after {elapsed}; the deadline is {Deadline}.");
    }
}
