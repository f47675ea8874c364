using System.Net;
using System.Net.Http.Headers;
using LockFree.Auth.ClientCredentials;
using LockFree.Auth.InteropTests.Infrastructure;
using Xunit.Abstractions;

namespace LockFree.Auth.InteropTests;

/// <summary>
/// <c>client_secret_jwt</c> (RFC 7523 §2.2) against oidc-provider 9.13.3, which verifies the HS256 assertion (signature,
/// iss, aud = issuer or token endpoint, exp) and refuses a reused jti (its replay detection). OpenIddict 7.x has no
/// <c>client_secret_jwt</c>, so it is not run there. Counts are what the server recorded.
/// </summary>
[Collection(InteropGroup.Name)]
public sealed class ClientSecretJwtInteropTests(Servers servers, ITestOutputHelper output)
{
    private const int Concurrency = 64;
    private const string ClientId = "cc-hmac";
    private const string Secret = "interop-hmac-secret-0123456789-abcdefghijklmnopq";

    /// <summary>A manager with one client, "hmac", authenticating with client_secret_jwt signed with <paramref name="secret"/>.</summary>
    private static ClientCredentialsTokenManager HmacClientManager(IAuthorizationServer server, string secret, HttpClient http) => new(
        new Dictionary<string, ClientCredentialsClientOptions>
        {
            ["hmac"] = new()
            {
                Authority = new Uri(server.Issuer),
                ClientId = ClientId,
                ClientSecret = secret,
                ClientAuthenticationMethod = ClientCredentialsClientOptions.ClientSecretJwt,
                Resource = server.Resource.Url,
            },
        },
        () => http);

    [Fact]
    public async Task ClientCredentialsManager_ClientSecretJwt_64ConcurrentCold_OneGrant_ThenAFreshAssertionAccepted()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = servers[Servers.OidcProvider];
        await server.ResetAsync(timeout.Token);
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        using var manager = HmacClientManager(server, Secret, http);

        var tokens = await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(() => manager.GetAccessTokenAsync("hmac", cancellationToken: timeout.Token))));
        var first = tokens[0];
        Assert.All(tokens, t => Assert.Equal(first.AccessToken, t.AccessToken));
        Assert.Equal(HttpStatusCode.OK, await CallResourceAsync(http, server, first.AccessToken, timeout.Token));

        // A second exchange: a new assertion (new jti), which the server's replay detection accepts.
        Assert.True(manager.InvalidateToken("hmac", first.AccessToken));
        var second = await manager.GetAccessTokenAsync("hmac", cancellationToken: timeout.Token);
        Assert.NotEqual(first.AccessToken, second.AccessToken);

        var grants = (await server.EventsAsync(timeout.Token)).Where(e => e.Kind == "token").ToArray();
        Assert.Equal(2, grants.Length);
        Assert.All(grants, g => Assert.Equal(("client_credentials", 200, "client_secret_jwt"), (g.GrantType, g.Status, g.ClientAuth)));
        Assert.All(server.Resource.Accepted.Values, jwt => Assert.Contains(server.Resource.Url.ToString(), jwt.Audiences));
        Record("client credentials manager, client_secret_jwt (HS256)", $"{Concurrency} cold callers -> 1 token request (200), then a fresh assertion -> 200; resource 200");
    }

    /// <summary>The server really verifies the HMAC: an assertion signed with another (long enough) secret is refused.</summary>
    [Fact]
    public async Task ClientCredentialsManager_ClientSecretJwt_WrongSecret_InvalidClient()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = servers[Servers.OidcProvider];
        await server.ResetAsync(timeout.Token);
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        const string wrong = "not-the-interop-hmac-secret-0123456789-abcdefghij";
        using var manager = HmacClientManager(server, wrong, http);

        var failure = await Assert.ThrowsAsync<OAuthException>(() => manager.GetAccessTokenAsync("hmac", cancellationToken: timeout.Token));

        Assert.Equal("invalid_client", failure.Error);
        Assert.DoesNotContain(wrong, failure.ToString(), StringComparison.Ordinal);
        var grant = Assert.Single(await server.EventsAsync(timeout.Token), e => e.Kind == "token");
        Assert.Equal((401, "client_secret_jwt"), (grant.Status, grant.ClientAuth));
        Record("client_secret_jwt signed with another secret", $"{grant.Status} {grant.Error}");
    }

    [Fact]
    public async Task ClientOAuthProvider_ClientSecretJwt_64ConcurrentColdRequests_OneGrant()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = servers[Servers.OidcProvider];
        await server.ResetAsync(timeout.Token);
        using var client = new InteropClient(server, o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = ClientId;
            o.ClientSecret = Secret;
            o.TokenEndpointAuthMethod = "client_secret_jwt";
        });

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        var grant = Assert.Single(await server.EventsAsync(timeout.Token), e => e.Kind == "token");
        Assert.Equal(("client_credentials", 200, "client_secret_jwt"), (grant.GrantType, grant.Status, grant.ClientAuth));
        Assert.All(statuses, s => Assert.Equal(200, s));
        Record("client credentials, client_secret_jwt (HS256)", $"{Concurrency} cold requests -> 1 token request ({grant.Status}), {statuses.Count(s => s == 200)} x 200");
    }

    private static async Task<HttpStatusCode> CallResourceAsync(HttpClient http, IAuthorizationServer server, string token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Resource.Url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        return response.StatusCode;
    }

    private void Record(string scenario, string counts)
    {
        output.WriteLine($"{Servers.OidcProvider} | {scenario} | {counts}");
        Measurements.Record(Servers.OidcProvider, scenario, counts);
    }
}
