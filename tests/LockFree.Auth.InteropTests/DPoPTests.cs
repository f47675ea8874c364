using System.Text.Json;
using LockFree.Auth.InteropTests.Infrastructure;
using Microsoft.IdentityModel.Tokens;
using Xunit.Abstractions;

namespace LockFree.Auth.InteropTests;

/// <summary>
/// DPoP (RFC 9449) against oidc-provider 9.13.3 with nonces required at its token endpoint and at the resource:
/// 64 concurrent requests, counted by the server and the resource. OpenIddict 7.9.0 has no DPoP: tokens stay bearer.
/// </summary>
[Collection(InteropGroup.Name)]
public sealed class DPoPTests(Servers servers, ITestOutputHelper output)
{
    private const int Concurrency = 64;

    [Fact]
    public async Task ClientCredentials_64ConcurrentColdRequests_NoncesAtTokenEndpointAndResource_OneUpdateEachAtMostOneRetryPerRequest()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = servers.OidcProviderWithDPoPNonce;
        await server.ResetAsync(timeout.Token);
        server.Resource.DPoPNonce = "resource-nonce-1";
        var keys = new InMemoryDPoPKeyStore();
        using var client = new InteropClient(server, o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "cc-basic";
            o.ClientSecret = "secret-basic";
            o.DPoPKeyStore = keys;
        });

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        var tokenRequests = (await server.EventsAsync(timeout.Token)).Where(e => e.Kind == "token").ToList();
        output.WriteLine(string.Join(Environment.NewLine, tokenRequests));
        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Equal(2, tokenRequests.Count);
        Assert.Equal((400, "use_dpop_nonce", true), (tokenRequests[0].Status, tokenRequests[0].Error, tokenRequests[0].Dpop));
        Assert.Equal((200, "client_credentials", true), (tokenRequests[1].Status, tokenRequests[1].GrantType, tokenRequests[1].Dpop));
        var tokens = await client.Provider.GetTokensAsync(timeout.Token);
        Assert.Equal("DPoP", tokens.TokenType);
        Assert.Equal(keys.Key.Thumbprint, JktOf(Assert.Single(server.Resource.Accepted.Keys)));

        var resource = server.Resource;
        var nonceUpdates = client.Provider.DPoP!.Nonces.Updates;
        // One per server (the token endpoint's and the resource's); a third only if oidc-provider's 60 s nonce step
        // rolled over during the test and its successful answer named the next nonce.
        Assert.InRange(nonceUpdates, 2, 3);
        Assert.InRange(resource.UseDPoPNonceAnswers, 1, Concurrency);
        Assert.Equal(Concurrency, resource.DPoPRequests);
        // 64 first requests without a token, then each request once with the token and at most once more for the nonce.
        Assert.Equal(2 * Concurrency + resource.UseDPoPNonceAnswers, resource.Requests);
        Record("DPoP, client credentials, nonces required",
            $"{Concurrency} cold requests -> 2 token requests (use_dpop_nonce, then 200 DPoP), {resource.UseDPoPNonceAnswers} resource use_dpop_nonce answers -> {nonceUpdates} nonce updates (1 per server), {resource.UseDPoPNonceAnswers} retries, {Concurrency} x 200");
    }

    [Fact]
    public async Task ResourceRotatesItsNonce_64Concurrent_OneNonceUpdateOneRetryPerRequestNoTokenRequest()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = servers.OidcProviderWithDPoPNonce;
        await server.ResetAsync(timeout.Token);
        server.Resource.DPoPNonce = "resource-nonce-1";
        using var client = new InteropClient(server, o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "cc-basic";
            o.ClientSecret = "secret-basic";
            o.DPoPKeyStore = new InMemoryDPoPKeyStore();
        });
        (await client.Http.GetAsync(client.ResourcePath(), timeout.Token)).Dispose();
        var updatesBefore = client.Provider.DPoP!.Nonces.Updates;
        await server.ResetAsync(timeout.Token);
        server.Resource.DPoPNonce = "resource-nonce-2";
        server.Resource.HoldUntilArrivals(Concurrency); // all 64 proofs are made before the first answer

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        var resource = server.Resource;
        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Equal(1, client.Provider.DPoP.Nonces.Updates - updatesBefore);
        Assert.Equal(Concurrency, resource.UseDPoPNonceAnswers); // every proof carried the old nonce
        Assert.Equal(2 * Concurrency, resource.Requests);         // each request retried exactly once
        Assert.DoesNotContain(await server.EventsAsync(timeout.Token), e => e.Kind == "token");
        Record("DPoP nonce storm at the resource",
            $"{Concurrency} concurrent requests, nonce rotated -> {resource.UseDPoPNonceAnswers} use_dpop_nonce answers -> 1 nonce update, {resource.Requests - Concurrency} retries (1 per request), 0 token requests, {Concurrency} x 200");
    }

    [Fact]
    public async Task ResourceAsksForANewNonceEveryTime_64Concurrent_EachRequestRetriedOnceThenThe401NoRefresh()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = servers.OidcProviderWithDPoPNonce;
        await server.ResetAsync(timeout.Token);
        using var client = new InteropClient(server, o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "cc-basic";
            o.ClientSecret = "secret-basic";
            o.DPoPKeyStore = new InMemoryDPoPKeyStore();
        });
        (await client.Http.GetAsync(client.ResourcePath(), timeout.Token)).Dispose();
        await server.ResetAsync(timeout.Token);
        server.Resource.DPoPNonce = "first";
        server.Resource.NewNonceOnEveryChallenge = true;

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        Assert.All(statuses, s => Assert.Equal(401, s));
        Assert.Equal(2 * Concurrency, server.Resource.Requests); // one retry per request, no storm
        Assert.Equal(2 * Concurrency, server.Resource.UseDPoPNonceAnswers);
        Assert.DoesNotContain(await server.EventsAsync(timeout.Token), e => e.Kind == "token"); // not taken for a rejected token
        Record("DPoP, resource demanding a new nonce every time", $"{Concurrency} concurrent requests -> {server.Resource.Requests} resource requests (1 retry each), {Concurrency} x 401 returned, 0 token requests");
    }

    [Fact]
    public async Task AuthorizationCode_RejectedBoundToken_64Concurrent401s_OneDPoPBoundRefresh()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = servers.OidcProviderWithDPoPNonce;
        await server.ResetAsync(timeout.Token);
        server.Resource.DPoPNonce = "resource-nonce-1";
        var keys = new InMemoryDPoPKeyStore();
        using var client = InteropClient.AuthorizationCode(server, configure: o => o.DPoPKeyStore = keys);
        (await client.Http.GetAsync(client.ResourcePath(), timeout.Token)).Dispose();
        var first = (await server.EventsAsync(timeout.Token)).Where(e => e.Kind == "token").ToList();
        Assert.Equal(1, first.Count(e => e.IsToken("authorization_code") && e.Status == 200 && e.Dpop));
        var tokens = await client.Provider.GetTokensAsync(timeout.Token);
        Assert.Equal("DPoP", tokens.TokenType);
        server.Resource.Reject(tokens.AccessToken);
        await server.ResetAsync(timeout.Token);
        server.Resource.DPoPNonce = "resource-nonce-1";

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        var refreshes = (await server.EventsAsync(timeout.Token)).Where(e => e.Kind == "token").ToList();
        output.WriteLine(string.Join(Environment.NewLine, refreshes));
        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Single(refreshes, e => e.IsToken("refresh_token") && e.Status == 200 && e.Dpop);
        Assert.All(refreshes.Where(e => e.Status != 200), e => Assert.Equal("use_dpop_nonce", e.Error)); // a nonce that rolled over
        Assert.DoesNotContain(refreshes, e => e.Error == "invalid_grant");
        Assert.Equal(1, client.Browser.Authorizations);
        Assert.Equal(keys.Key.Thumbprint, JktOf(Assert.Single(server.Resource.Accepted.Keys)));
        Record("DPoP, authorization code + bound refresh",
            $"{Concurrency} concurrent 401s with one DPoP-bound token -> {refreshes.Count} refresh request(s) with a proof, 0 invalid_grant, {Concurrency} x 200");
    }

    [Fact]
    public async Task ServerWithoutDPoP_OpenIddict_BearerTokensStillWork()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = servers.OpenIddictServer;
        await server.ResetAsync(timeout.Token);
        using var client = new InteropClient(server, o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "cc-basic";
            o.ClientSecret = "secret-basic";
            o.DPoPKeyStore = new InMemoryDPoPKeyStore();
        });

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        Assert.All(statuses, s => Assert.Equal(200, s));
        var grant = Assert.Single(await server.EventsAsync(timeout.Token), e => e.Kind == "token");
        Assert.True(grant.Dpop);
        Assert.Equal("Bearer", (await client.Provider.GetTokensAsync(timeout.Token)).TokenType);
        Assert.Equal(0, server.Resource.DPoPRequests);
        Record("DPoP on, server without DPoP", $"proof sent and ignored, token_type Bearer, 1 token request, {Concurrency} x 200", Servers.OpenIddict);
    }

    private static string? JktOf(string accessToken)
    {
        using var payload = JsonDocument.Parse(Base64UrlEncoder.Decode(accessToken.Split('.')[1]));
        return payload.RootElement.GetProperty("cnf").GetProperty("jkt").GetString();
    }

    private void Record(string scenario, string counts, string server = Servers.OidcProvider)
    {
        output.WriteLine(counts);
        Measurements.Record(server, scenario, counts);
    }
}
