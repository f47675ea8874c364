using System.Diagnostics;
using System.Net;
using LockFree.Auth.InteropTests.Infrastructure;
using Xunit.Abstractions;

namespace LockFree.Auth.InteropTests;

/// <summary>
/// ClientOAuthProvider + ClientOAuthHandler against OpenIddict 7.9.0 and oidc-provider 9.13.3. Every count is what the
/// authorization server itself recorded (<see cref="ServerEvent"/>) or what the protected resource answered; nothing
/// is inferred from the client's errors.
/// </summary>
[Collection(InteropGroup.Name)]
public sealed class InteropScenarioTests(Servers servers, ITestOutputHelper output)
{
    private const int Concurrency = 64;

    public static TheoryData<string, string> ClientAuthenticationCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var server in new[] { Servers.OpenIddict, Servers.OidcProvider })
            {
                foreach (var method in new[] { "client_secret_basic", "client_secret_post", "private_key_jwt" })
                {
                    data.Add(server, method);
                }
            }

            return data;
        }
    }

    public static TheoryData<string, bool> DiscoveryCases => new()
    {
        { Servers.OpenIddict, true }, { Servers.OpenIddict, false }, { Servers.OidcProvider, true }, { Servers.OidcProvider, false },
    };

    [Theory]
    [MemberData(nameof(ClientAuthenticationCases))]
    public async Task ClientCredentials_64ConcurrentColdRequests_OneGrantWithTheConfiguredAuthentication(string name, string method)
    {
        using var timeout = Timeout();
        var server = await ResetAsync(name, timeout.Token);
        using var client = new InteropClient(server, o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.TokenEndpointAuthMethod = method;
            (o.ClientId, o.ClientSecret) = method switch
            {
                "client_secret_basic" => ("cc-basic", "secret-basic"),
                "client_secret_post" => ("cc-post", "secret-post"),
                _ => ("cc-jwt", null),
            };
            if (method == "private_key_jwt")
            {
                o.ClientAssertionSigningCredentials = ClientKeys.SigningCredentials;
            }
        });

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        var events = await server.EventsAsync(timeout.Token);
        var grant = Assert.Single(events, e => e.Kind == "token");
        Assert.Equal(("client_credentials", 200, method), (grant.GrantType, grant.Status, grant.ClientAuth));
        Assert.Equal(server.Resource.Url.ToString(), grant.Resource);
        Assert.All(statuses, s => Assert.Equal(200, s));
        AssertAudienceIsTheResource(server);
        Record(name, $"client credentials, {method}", $"{Concurrency} cold requests -> 1 token request ({grant.Status}), {Count(statuses, 200)} x 200");
    }

    [Theory]
    [InlineData(Servers.OpenIddict, ClientAssertionJwtTypes.Jwt, 401)]
    [InlineData(Servers.OpenIddict, ClientAssertionJwtTypes.ClientAuthentication, 200)]
    [InlineData(Servers.OidcProvider, ClientAssertionJwtTypes.Jwt, 200)]
    [InlineData(Servers.OidcProvider, ClientAssertionJwtTypes.ClientAuthentication, 200)]
    public async Task PrivateKeyJwt_AssertionTyp_WhatEachServerAccepts(string name, string typ, int expectedStatus)
    {
        using var timeout = Timeout();
        var server = await ResetAsync(name, timeout.Token);
        using var client = new InteropClient(server, o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "cc-jwt";
            o.ClientAssertionSigningCredentials = ClientKeys.SigningCredentials;
            o.ClientAssertionJwtType = typ;
        });

        OAuthException? failure = null;
        try
        {
            await client.Provider.GetTokensAsync(timeout.Token);
        }
        catch (OAuthException ex)
        {
            failure = ex;
        }

        var grant = Assert.Single(await server.EventsAsync(timeout.Token), e => e.Kind == "token");
        Assert.Equal(expectedStatus, grant.Status);
        Assert.Equal(expectedStatus == 200, failure is null);
        if (failure is not null)
        {
            Assert.Equal("invalid_client", failure.Error);
        }

        Record(name, $"private_key_jwt typ {typ}", expectedStatus == 200 ? "accepted" : $"{grant.Status} {grant.Error}: {grant.ErrorDescription}");
    }

    [Theory]
    [MemberData(nameof(Servers.Names), MemberType = typeof(Servers))]
    public async Task AuthorizationCodePkce_64ConcurrentColdRequests_OneAuthorizationOneCodeExchangeWithIss(string name)
    {
        using var timeout = Timeout();
        var server = await ResetAsync(name, timeout.Token);
        using var client = InteropClient.AuthorizationCode(server);

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        var events = await server.EventsAsync(timeout.Token);
        var exchange = Assert.Single(events, e => e.Kind == "token");
        Assert.Equal(("authorization_code", 200, "none"), (exchange.GrantType, exchange.Status, exchange.ClientAuth));
        Assert.Equal(server.Resource.Url.ToString(), exchange.Resource);
        Assert.Equal(1, client.Browser.Authorizations);
        var request = Query(Assert.Single(client.Browser.AuthorizationRequests));
        Assert.Equal("S256", request["code_challenge_method"]);
        Assert.Equal(43, request["code_challenge"].Length);
        Assert.Equal(server.Resource.Url.ToString(), request["resource"]);
        var redirect = AuthorizationResult.FromRedirectUri(Assert.Single(client.Browser.Redirects));
        Assert.Equal(server.Issuer, redirect.Iss); // RFC 9207, checked by the provider against the metadata's issuer
        Assert.NotNull((await client.Provider.GetTokensAsync(timeout.Token)).RefreshToken);
        Assert.All(statuses, s => Assert.Equal(200, s));
        AssertAudienceIsTheResource(server);
        Record(name, "authorization code + PKCE", $"{Concurrency} cold requests -> 1 authorization, 1 code exchange, {Count(statuses, 200)} x 200; iss on the redirect");
    }

    [Theory]
    [MemberData(nameof(Servers.Names), MemberType = typeof(Servers))]
    public async Task RotatingRefreshTokens_64ConcurrentOverSeveralExpiryCycles_OneRefreshPerCycleZeroInvalidGrant(string name)
    {
        using var timeout = Timeout(TimeSpan.FromSeconds(60));
        var server = await ResetAsync(name, timeout.Token);
        using var client = InteropClient.AuthorizationCode(server, "code-short"); // 5 s access tokens
        using (var first = await client.Http.GetAsync(client.ResourcePath(), timeout.Token))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var unauthorizedBefore = server.Resource.Unauthorized; // the first request, sent before any token existed
        var duration = TimeSpan.FromSeconds(13);
        var clock = Stopwatch.StartNew();
        var statuses = new List<int>();
        while (clock.Elapsed < duration)
        {
            statuses.AddRange(await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token));
            await Task.Delay(150, timeout.Token);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var events = await server.EventsAsync(timeout.Token);
        var refreshes = events.Where(e => e.IsToken("refresh_token")).ToList();
        var invalidGrants = events.Count(e => e.Error == "invalid_grant");
        output.WriteLine(string.Join(Environment.NewLine, events.Where(e => e.Kind == "token")));
        Assert.Equal(0, invalidGrants);
        Assert.All(refreshes, r => Assert.Equal(200, r.Status));
        Assert.All(refreshes, r => Assert.Equal(server.Resource.Url.ToString(), r.Resource));
        Assert.Equal(1, client.Browser.Authorizations);
        Assert.All(statuses, s => Assert.Equal(200, s));

        // The token is refreshed ahead from 4 s of its 5 s (20 % refresh-ahead window): one refresh per ~4 s.
        var ideal = (int)Math.Ceiling(seconds / 4.0);
        Assert.InRange(refreshes.Count, 2, ideal + 1);
        Assert.Equal(refreshes.Count + 1, server.Resource.Accepted.Count); // every refresh produced the token used next
        Record(name, "rotating refresh tokens, 64 concurrent, expiry cycles",
            $"{statuses.Count} requests over {seconds:0.0} s of 5 s tokens -> {refreshes.Count} refreshes (ideal <= {ideal}), 0 invalid_grant, {server.Resource.Unauthorized - unauthorizedBefore} x 401, 1 authorization");
    }

    [Theory]
    [MemberData(nameof(Servers.Names), MemberType = typeof(Servers))]
    public async Task ResourceRejectsTheCurrentToken_64Concurrent401s_OneRefresh(string name)
    {
        using var timeout = Timeout();
        var server = await ResetAsync(name, timeout.Token);
        using var client = InteropClient.AuthorizationCode(server);
        (await client.Http.GetAsync(client.ResourcePath(), timeout.Token)).Dispose();
        var tokens = await client.Provider.GetTokensAsync(timeout.Token);
        server.Resource.Reject(tokens.AccessToken);
        await server.ResetAsync(timeout.Token);
        server.Resource.HoldUntilArrivals(Concurrency); // all 64 are sent with the rejected token before any answer

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        var events = await server.EventsAsync(timeout.Token);
        var refresh = Assert.Single(events, e => e.Kind == "token");
        Assert.Equal(("refresh_token", 200), (refresh.GrantType, refresh.Status));
        Assert.Equal(Concurrency, server.Resource.Unauthorized);
        Assert.Equal(1, client.Browser.Authorizations);
        Assert.All(statuses, s => Assert.Equal(200, s));
        Record(name, "resource rejects the current token", $"{Concurrency} concurrent 401s with one token -> 1 refresh, 0 invalid_grant, {Count(statuses, 200)} x 200");
    }

    [Theory]
    [MemberData(nameof(Servers.Names), MemberType = typeof(Servers))]
    public async Task ScopeStepUp_64Concurrent403InsufficientScope_OneNewAuthorizationWithTheUnion(string name)
    {
        using var timeout = Timeout();
        var server = await ResetAsync(name, timeout.Token);
        using var client = InteropClient.AuthorizationCode(server);
        (await client.Http.GetAsync(client.ResourcePath(), timeout.Token)).Dispose();
        Assert.DoesNotContain("mcp:admin", client.Provider.CurrentScopes);
        await server.ResetAsync(timeout.Token);
        server.Resource.HoldUntilArrivals(Concurrency); // all 64 are sent with the mcp:read token before any answer

        var statuses = await client.GetConcurrentlyAsync(Concurrency, "/admin", timeout.Token);

        var events = await server.EventsAsync(timeout.Token);
        var exchange = Assert.Single(events, e => e.Kind == "token");
        Assert.Equal(("authorization_code", 200), (exchange.GrantType, exchange.Status));
        Assert.Equal(2, client.Browser.Authorizations);
        var scope = Query(client.Browser.AuthorizationRequests[1])["scope"].Split(' ');
        Assert.Contains("mcp:read", scope);
        Assert.Contains("mcp:admin", scope);
        Assert.Contains("mcp:admin", client.Provider.CurrentScopes);
        Assert.Equal(Concurrency, server.Resource.Forbidden);
        Assert.All(statuses, s => Assert.Equal(200, s));
        Record(name, "scope step-up", $"{Concurrency} concurrent 403 insufficient_scope -> 1 authorization (mcp:read + mcp:admin), 1 code exchange, {Count(statuses, 200)} x 200");
    }

    [Theory]
    [MemberData(nameof(Servers.Names), MemberType = typeof(Servers))]
    public async Task RefreshTokenRevokedAtTheServer_64Concurrent_OneRefreshRejectedThenOneNewAuthorization(string name)
    {
        using var timeout = Timeout();
        var server = await ResetAsync(name, timeout.Token);
        using var client = InteropClient.AuthorizationCode(server);
        (await client.Http.GetAsync(client.ResourcePath(), timeout.Token)).Dispose();
        var tokens = await client.Provider.GetTokensAsync(timeout.Token);
        using (var http = new HttpClient())
        using (var revocation = await http.PostAsync(server.RevocationEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = tokens.RefreshToken!,
            ["token_type_hint"] = "refresh_token",
            ["client_id"] = "code-client",
        }), timeout.Token))
        {
            Assert.Equal(HttpStatusCode.OK, revocation.StatusCode); // RFC 7009
        }

        server.Resource.Reject(tokens.AccessToken);
        await server.ResetAsync(timeout.Token);
        server.Resource.HoldUntilArrivals(Concurrency);

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        var events = (await server.EventsAsync(timeout.Token)).Where(e => e.Kind == "token").ToList();
        output.WriteLine(string.Join(Environment.NewLine, events));
        Assert.Equal(2, events.Count);
        Assert.Equal(("refresh_token", 400, "invalid_grant"), (events[0].GrantType, events[0].Status, events[0].Error));
        Assert.Equal(("authorization_code", 200), (events[1].GrantType, events[1].Status));
        Assert.Equal(Concurrency, server.Resource.Unauthorized);
        Assert.Equal(2, client.Browser.Authorizations);
        Assert.All(statuses, s => Assert.Equal(200, s));
        Record(name, "refresh token revoked at the server (RFC 7009)", $"{Concurrency} concurrent 401s -> 1 refresh (invalid_grant), 1 new authorization, 1 code exchange, {Count(statuses, 200)} x 200");
    }

    [Theory]
    [MemberData(nameof(DiscoveryCases))]
    public async Task MetadataDiscovery_Rfc8414OrOpenIdConnectFallback_OneMetadataDocumentUsed(string name, bool oauthMetadata)
    {
        using var timeout = Timeout();
        var server = await ResetAsync(name, timeout.Token);
        await server.SetOAuthMetadataAsync(oauthMetadata, timeout.Token);
        using var client = new InteropClient(server, o => { o.GrantType = OAuthGrantType.ClientCredentials; o.ClientId = "cc-basic"; o.ClientSecret = "secret-basic"; });

        var statuses = await client.GetConcurrentlyAsync(Concurrency, cancellationToken: timeout.Token);

        var discovery = (await server.EventsAsync(timeout.Token)).Where(e => e.Kind == "discovery").Select(e => (e.Path, e.Status)).ToList();
        var expected = oauthMetadata
            ? new List<(string, int)> { ("/.well-known/oauth-authorization-server", 200) }
            : [("/.well-known/oauth-authorization-server", 404), ("/.well-known/openid-configuration", 200)];
        Assert.Equal(expected, discovery);
        Assert.All(statuses, s => Assert.Equal(200, s));
        Record(name, oauthMetadata ? "discovery: RFC 8414" : "discovery: OpenID Connect fallback",
            $"{Concurrency} cold requests -> {string.Join(", ", discovery.Select(d => $"{d.Path} {d.Status}"))}, 1 token request");
    }

    [Theory]
    [MemberData(nameof(Servers.Names), MemberType = typeof(Servers))]
    public async Task Rfc9207_RedirectWithAnotherIss_IssuerMismatchAndNoCodeExchange(string name)
    {
        using var timeout = Timeout();
        var server = await ResetAsync(name, timeout.Token);
        using var client = InteropClient.AuthorizationCode(server);
        client.Browser.Tamper = r => new AuthorizationResult { Code = r.Code, State = r.State, Iss = "http://127.0.0.1:1/" };

        var ex = await Assert.ThrowsAsync<OAuthException>(() => client.Http.GetAsync(client.ResourcePath(), timeout.Token));

        Assert.Equal(OAuthFailureReason.IssuerMismatch, ex.Reason);
        Assert.DoesNotContain(await server.EventsAsync(timeout.Token), e => e.Kind == "token");
        Assert.Equal(server.Issuer, AuthorizationResult.FromRedirectUri(Assert.Single(client.Browser.Redirects)).Iss);
        Record(name, "RFC 9207 iss", "the server's iss accepted; a forged iss -> IssuerMismatch, 0 code exchanges");
    }

    [Theory]
    [MemberData(nameof(Servers.Names), MemberType = typeof(Servers))]
    public async Task AuthorizationErrorRedirect_TypedErrorWithTheServersErrorAndSanitizedDescription(string name)
    {
        using var timeout = Timeout();
        var server = await ResetAsync(name, timeout.Token);
        string expectedError, expectedDescription;
        Uri? expectedUri;
        InteropClient client;
        if (name == Servers.OpenIddict)
        {
            // The passthrough authorization endpoint refuses the scope; OpenIddict builds the error redirect.
            server.Resource.ChallengeScope = "mcp:read " + OpenIddictServer.DeniedScope;
            client = InteropClient.AuthorizationCode(server);
            (expectedError, expectedDescription, expectedUri) = ("invalid_scope", "The user declined mcp:denied  rsumTrace: 42", new Uri(OpenIddictServer.DeniedErrorUri));
        }
        else
        {
            // prompt=none without a session: oidc-provider answers login_required on the redirect.
            client = InteropClient.AuthorizationCode(server, configure: o => o.AdditionalAuthorizationParameters["prompt"] = "none");
            (expectedError, expectedDescription, expectedUri) = ("login_required", "End-User authentication is required", null);
        }

        using (client)
        {
            var ex = await Assert.ThrowsAsync<OAuthException>(() => client.Http.GetAsync(client.ResourcePath(), timeout.Token));

            Assert.Equal(OAuthFailureReason.ErrorResponse, ex.Reason);
            Assert.Equal(expectedError, ex.Error);
            Assert.Equal(expectedDescription, ex.ErrorDescription);
            Assert.Equal(expectedUri, ex.ErrorUri);
            var redirect = Query(Assert.Single(client.Browser.Redirects));
            Assert.Equal(expectedError, redirect["error"]);
            Assert.Equal(Query(client.Browser.AuthorizationRequests[0])["state"], redirect["state"]);
            Assert.Equal(server.Issuer, redirect["iss"]);
            Assert.DoesNotContain(await server.EventsAsync(timeout.Token), e => e.Kind == "token");
            Record(name, "error on the authorization redirect", $"OAuthException(ErrorResponse, {ex.Error}, \"{ex.ErrorDescription}\"{(ex.ErrorUri is null ? string.Empty : ", error_uri")}), state and iss checked, 0 code exchanges");
        }
    }

    private static CancellationTokenSource Timeout(TimeSpan? after = null) => new(after ?? TimeSpan.FromSeconds(30));

    private async Task<IAuthorizationServer> ResetAsync(string name, CancellationToken cancellationToken)
    {
        var server = servers[name];
        await server.ResetAsync(cancellationToken);
        return server;
    }

    private static int Count(IEnumerable<int> statuses, int status) => statuses.Count(s => s == status);

    private static Dictionary<string, string> Query(Uri uri) =>
        uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p.Length > 1 ? p[1].Replace('+', ' ') : string.Empty), StringComparer.Ordinal);

    /// <summary>RFC 8707: every token the resource accepted names it as the audience.</summary>
    private static void AssertAudienceIsTheResource(IAuthorizationServer server)
    {
        Assert.NotEmpty(server.Resource.Accepted);
        Assert.All(server.Resource.Accepted.Values, jwt => Assert.Contains(server.Resource.Url.ToString(), jwt.Audiences));
    }

    private void Record(string server, string scenario, string counts)
    {
        output.WriteLine($"{server} | {scenario} | {counts}");
        Measurements.Record(server, scenario, counts);
    }
}
