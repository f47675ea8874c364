using LockFree.Auth.InteropTests.Infrastructure;

namespace LockFree.Auth.InteropTests;

[Collection(InteropGroup.Name)]
public sealed class SmokeTests(Servers servers)
{
    [Theory]
    [MemberData(nameof(Servers.Names), MemberType = typeof(Servers))]
    public async Task Smoke(string name)
    {
        var server = servers[name];
        await server.ResetAsync(default);
        using var client = new InteropClient(server, o => { o.GrantType = OAuthGrantType.ClientCredentials; o.ClientId = "cc-basic"; o.ClientSecret = "secret-basic"; });
        using var response = await client.Http.GetAsync(client.ResourcePath());
        var events = await server.EventsAsync(default);
        Assert.True(response.IsSuccessStatusCode, string.Join("\n", events));
    }
}
