using System.Net;
using LockFree.Auth.Testing;

namespace LockFree.Auth.Tests.ClientCredentials;

/// <summary>
/// The handler: a token only to the API's origin; on a 401 to the token it sent, a conditional invalidation and one
/// retry when the content can be sent again; stale 401s cost no exchange.
/// </summary>
public sealed class ClientCredentialsTokenHandlerTests
{
    private const string Data = ClientCredentialsFixture.Api + "/data";

    [Fact]
    public async Task Send_AttachesTheBearerToken_OneExchangeForManyRequests()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        world.Handler.On(HttpMethod.Get, Data, r => FakeResponses.Json($"{{\"auth\":\"{r.Authorization}\"}}"));
        using var client = new HttpClient(new ClientCredentialsTokenHandler(manager, "billing", new Uri(ClientCredentialsFixture.Api), world.Handler));

        var responses = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => client.GetAsync(Data))).Within();

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.All(world.Handler.RequestsTo(Data), r => Assert.Equal("Bearer cc-access-1", r.Authorization));
        Assert.Equal(1, world.Server.TokenRequests);
    }

    [Fact]
    public async Task Send_OtherOrigin_PassesThroughWithoutToken()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        const string Elsewhere = "https://elsewhere.example.com/data";
        world.Handler.On(HttpMethod.Get, Elsewhere, _ => FakeResponses.Status(HttpStatusCode.Unauthorized));
        using var client = new HttpClient(new ClientCredentialsTokenHandler(manager, "billing", new Uri(ClientCredentialsFixture.Api), world.Handler));

        using var response = await client.GetAsync(Elsewhere).Within();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Null(Assert.Single(world.Handler.RequestsTo(Elsewhere)).Authorization);
        Assert.Equal(0, world.Server.TokenRequests);
    }

    [Fact]
    public async Task Send_401ToTheTokenSent_RetiresItAndRetriesOnceWithANewToken()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        var revoked = "Bearer cc-access-1";
        world.Handler.On(HttpMethod.Post, Data, r => r.Authorization == revoked ? FakeResponses.Status(HttpStatusCode.Unauthorized) : FakeResponses.Json("{}"));
        using var client = new HttpClient(new ClientCredentialsTokenHandler(manager, "billing", new Uri(ClientCredentialsFixture.Api), world.Handler));

        using var response = await client.PostAsync(Data, new StringContent("{\"amount\":1}")).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = world.Handler.RequestsTo(Data);
        Assert.Equal(["Bearer cc-access-1", "Bearer cc-access-2"], sent.Select(r => r.Authorization));
        Assert.All(sent, r => Assert.Equal("{\"amount\":1}", r.Body));
        Assert.Equal(2, world.Server.TokenRequests);
    }

    [Fact]
    public async Task Send_ConcurrentRequestsAllRejected_OneReplacementExchange()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        await manager.GetAccessTokenAsync("billing").Within();
        world.Handler.On(HttpMethod.Get, Data, r => r.Authorization == "Bearer cc-access-1" ? FakeResponses.Status(HttpStatusCode.Unauthorized) : FakeResponses.Json("{}"));
        using var client = new HttpClient(new ClientCredentialsTokenHandler(manager, "billing", new Uri(ClientCredentialsFixture.Api), world.Handler));

        var responses = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => client.GetAsync(Data))).Within();

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(2, world.Server.TokenRequests);
    }

    [Fact]
    public async Task Send_401ToTheRetry_ReturnedAsIs()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        world.Handler.On(HttpMethod.Get, Data, _ => FakeResponses.Status(HttpStatusCode.Unauthorized));
        using var client = new HttpClient(new ClientCredentialsTokenHandler(manager, "billing", new Uri(ClientCredentialsFixture.Api), world.Handler));

        using var response = await client.GetAsync(Data).Within();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(2, world.Handler.CountOf(Data));
        Assert.Equal(2, world.Server.TokenRequests);
    }

    [Fact]
    public async Task Send_StreamedContent_NotRetried_ButTheTokenIsRetired()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        world.Handler.On(HttpMethod.Post, Data, r => r.Authorization == "Bearer cc-access-1" ? FakeResponses.Status(HttpStatusCode.Unauthorized) : FakeResponses.Json("{}"));
        using var client = new HttpClient(new ClientCredentialsTokenHandler(manager, "billing", new Uri(ClientCredentialsFixture.Api), world.Handler));

        using var first = await client.PostAsync(Data, new StreamContent(new MemoryStream("streamed"u8.ToArray()))).Within();
        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        Assert.Equal(1, world.Handler.CountOf(Data));

        using var second = await client.PostAsync(Data, new StreamContent(new MemoryStream("streamed"u8.ToArray()))).Within();
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(2, world.Server.TokenRequests);
    }

    [Fact]
    public async Task Send_RequestOptionAsksForAnotherScope_CachedUnderItsOwnKey_AndRetiredAlone()
    {
        var world = new ClientCredentialsFixture();
        using var manager = world.Manager();
        world.Handler.On(HttpMethod.Get, Data, r => r.Authorization == "Bearer cc-access-2" && world.Handler.CountOf(Data) <= 3 ? FakeResponses.Status(HttpStatusCode.Unauthorized) : FakeResponses.Json("{}"));
        using var client = new HttpClient(new ClientCredentialsTokenHandler(manager, "billing", new Uri(ClientCredentialsFixture.Api), world.Handler));

        using (var plain = await client.GetAsync(Data).Within())
        {
            Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        }

        using var reports = new HttpRequestMessage(HttpMethod.Get, Data);
        reports.Options.Set(ClientCredentialsTokenHandler.TokenRequestOption, new ClientCredentialsTokenRequest { Scope = "reports.read" });
        using var response = await client.SendAsync(reports).Within();

        // cc-access-2 (scope reports.read) was rejected once: retired and replaced by cc-access-3 for that key only.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["billing.read", "reports.read", "reports.read"], world.Server.TokenRequestsReceived.Select(r => r["scope"]));
        Assert.Equal("cc-access-1", (await manager.GetAccessTokenAsync("billing").Within()).AccessToken);
        Assert.Equal("cc-access-3", (await manager.GetAccessTokenAsync("billing", new ClientCredentialsTokenRequest { Scope = "reports.read" }).Within()).AccessToken);
    }

    [Fact]
    public void Constructor_PlainHttpApiOffLoopback_Refused()
    {
        using var manager = new ClientCredentialsFixture().Manager();
        var error = Assert.Throws<ArgumentException>(() => new ClientCredentialsTokenHandler(manager, "billing", new Uri("http://api.example.com")));
        Assert.Equal("apiBaseAddress", error.ParamName);
        Assert.Throws<ArgumentException>(() => new ClientCredentialsTokenHandler(manager, "payroll", new Uri(ClientCredentialsFixture.Api)));
    }
}
