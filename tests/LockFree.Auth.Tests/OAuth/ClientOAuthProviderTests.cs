using System.Net;
using System.Text;
using LockFree.Auth.Testing.OAuth;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Tests.OAuth;

public sealed class ClientOAuthProviderTests
{
    [Fact]
    public async Task SendAsync_FirstRequest_DiscoversRegistersAuthorizesAndReplays()
    {
        using var host = new OAuthTestHost();

        using var response = await host.PostAsync("hello").Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("echo:hello", await response.Content.ReadAsStringAsync().Within());
        Assert.Equal(1, host.Prompts);
        Assert.Equal(1, host.Server.Registrations);
        Assert.Equal(1, host.Server.CodeGrants);
        Assert.Equal(1, host.Server.PrmRequests);
        Assert.Equal(1, host.Server.AsMetadataRequests);
        var authorize = Assert.Single(host.Server.AuthorizationRequests);
        Assert.Equal("S256", authorize["code_challenge_method"]);
        Assert.Equal(FakeMcpAuthServer.ResourceUrl, authorize["resource"]);
        Assert.Equal("http://127.0.0.1:7777/callback", authorize["redirect_uri"]);
        Assert.False(string.IsNullOrEmpty(authorize["state"]));
        var token = Assert.Single(host.Server.TokenEndpointRequests);
        Assert.Equal(FakeMcpAuthServer.ResourceUrl, token.Form["resource"]);
        Assert.Equal(43, token.Form["code_verifier"].Length);
    }

    [Fact]
    public async Task SendAsync_ValidToken_NoFurtherExchange()
    {
        using var host = new OAuthTestHost();
        (await host.GetAsync().Within()).Dispose();

        for (var i = 0; i < 10; i++)
        {
            using var response = await host.GetAsync().Within();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(1, host.Server.TokenRequests);
        Assert.Equal(1, host.Prompts);
    }

    [Theory]
    [InlineData(PrmLocation.PathSpecificInChallenge)]
    [InlineData(PrmLocation.PathSpecific)]
    [InlineData(PrmLocation.Root)]
    [InlineData(PrmLocation.CustomInChallenge)]
    public async Task SendAsync_ResourceMetadataLocations_Found(PrmLocation location)
    {
        using var host = new OAuthTestHost(server: s => s.PrmLocation = location);

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var prmPaths = host.Server.Requests.Where(r => r.Path.Contains("oauth-protected-resource") || r.Path.Contains("custom")).Select(r => r.Path).ToList();
        switch (location)
        {
            case PrmLocation.PathSpecificInChallenge or PrmLocation.PathSpecific:
                Assert.Equal(["/.well-known/oauth-protected-resource/mcp"], prmPaths); // path-specific first, root never asked
                break;
            case PrmLocation.Root:
                Assert.Equal(["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"], prmPaths);
                break;
            case PrmLocation.CustomInChallenge:
                Assert.Equal(["/custom/metadata/location.json"], prmPaths);
                break;
        }
    }

    [Fact]
    public async Task SendAsync_IssuerWithPath_PathInsertionDiscovery()
    {
        using var host = new OAuthTestHost(server: s => s.Issuer = "https://auth.example.com/tenant1");

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(host.Server.Requests, r => r.Path == "/.well-known/oauth-authorization-server/tenant1");
        Assert.DoesNotContain(host.Server.Requests, r => r.Path == "/.well-known/oauth-authorization-server");
    }

    [Fact]
    public async Task SendAsync_ResourceMismatch_ThrowsWithoutAuthorizationRequest()
    {
        using var host = new OAuthTestHost(server: s => s.PrmResourceOverride = "https://evil.example.com/mcp");

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Contains("does not match", ex.Message);
        Assert.Equal(0, host.Prompts);
        Assert.Equal(0, host.Server.Registrations);
        Assert.Equal(0, host.Server.TokenRequests);
    }

    [Fact]
    public async Task SendAsync_NoResourceMetadata_OriginIsAuthorizationServer()
    {
        using var host = new OAuthTestHost(server: s =>
        {
            s.PrmLocation = PrmLocation.None;
            s.Issuer = FakeMcpAuthServer.ResourceOrigin;
        });

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, host.Server.AsMetadataRequests);
        Assert.Equal(1, host.Server.CodeGrants);
        Assert.False(host.Server.AuthorizationRequests[0].ContainsKey("resource"));
    }

    [Fact]
    public async Task SendAsync_NoMetadataAtAll_DefaultEndpoints()
    {
        using var host = new OAuthTestHost(server: s =>
        {
            s.PrmLocation = PrmLocation.None;
            s.ServeAsMetadata = false;
            s.Issuer = FakeMcpAuthServer.ResourceOrigin;
        });
        Uri? authorizationUri = null;
        host.Prompt = (context, _) =>
        {
            authorizationUri = context.AuthorizationUri;
            return Task.FromResult<AuthorizationResult?>(host.Server.Authorize(context.AuthorizationUri));
        };

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(FakeMcpAuthServer.ResourceOrigin + "/authorize", authorizationUri!.GetLeftPart(UriPartial.Path));
        Assert.Equal(1, host.Server.Registrations);
        Assert.Equal(1, host.Server.CodeGrants);
    }

    [Fact]
    public async Task SendAsync_AuthorizationServerWithoutS256_Refused()
    {
        using var host = new OAuthTestHost(server: s => s.CodeChallengeMethods = ["plain"]);

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Contains("S256", ex.Message);
        Assert.Equal(0, host.Prompts);
    }

    [Fact]
    public async Task SendAsync_StateMismatch_RejectedWithoutTokenRequest()
    {
        using var host = new OAuthTestHost();
        host.Prompt = (context, _) =>
        {
            var result = host.Server.Authorize(context.AuthorizationUri);
            return Task.FromResult<AuthorizationResult?>(new AuthorizationResult { Code = result.Code, State = "forged", Iss = result.Iss });
        };

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Contains("state", ex.Message);
        Assert.Equal(0, host.Server.CodeGrants);
    }

    [Theory]
    [InlineData(true, null, false)]                            // advertised, missing → reject
    [InlineData(true, "https://evil.example.com", false)]      // wrong issuer → reject
    [InlineData(true, "https://auth.example.com/", false)]     // no normalization → reject
    [InlineData(true, "https://auth.example.com", true)]       // exact → proceed
    [InlineData(false, null, true)]                            // not advertised, absent → proceed
    [InlineData(false, "https://evil.example.com", false)]     // not advertised, unexpected wrong → reject
    public async Task SendAsync_Rfc9207Iss_CheckedExactly(bool advertised, string? iss, bool accepted)
    {
        using var host = new OAuthTestHost(server: s => s.IssParameterSupported = advertised);
        host.Prompt = (context, _) =>
        {
            var result = host.Server.Authorize(context.AuthorizationUri);
            return Task.FromResult<AuthorizationResult?>(new AuthorizationResult { Code = result.Code, State = result.State, Iss = iss });
        };

        if (accepted)
        {
            using var response = await host.GetAsync().Within();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(1, host.Server.CodeGrants);
        }
        else
        {
            var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());
            Assert.Equal(OAuthFailureReason.IssuerMismatch, ex.Reason);
            Assert.Equal(0, host.Server.CodeGrants);
        }
    }

    [Fact]
    public async Task SendAsync_UserDeclines_TypedErrorThenNextRequestPromptsAgain()
    {
        using var host = new OAuthTestHost();
        host.Prompt = (_, _) => Task.FromResult<AuthorizationResult?>(null);

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());
        Assert.Equal("access_denied", ex.Error);

        host.Prompt = null;
        using var response = await host.GetAsync().Within();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, host.Prompts);
    }

    [Fact]
    public async Task SendAsync_PreRegisteredBasic_FormEncodesCredentials()
    {
        const string id = "client id:é+/";
        const string secret = "s3cr3t:%&=+ ";
        using var host = new OAuthTestHost(
            o => { o.ClientId = id; o.ClientSecret = secret; },
            s => { s.RegistrationEnabled = false; s.AuthMethodsSupported = ["client_secret_basic"]; s.Clients[id] = secret; });

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var token = Assert.Single(host.Server.TokenEndpointRequests);
        Assert.Equal("Basic", token.Authorization!.Scheme);
        var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(token.Authorization.Parameter!));
        Assert.Equal(Uri.EscapeDataString(id).Replace("%20", "+") + ":" + Uri.EscapeDataString(secret).Replace("%20", "+"), decoded);
        Assert.False(token.Form.ContainsKey("client_secret"));
        Assert.Equal(0, host.Server.Registrations);
    }

    [Theory]
    [InlineData("client_secret_basic")]
    [InlineData("client_secret_post")]
    [InlineData("none")]
    public async Task SendAsync_DynamicRegistration_UsesTheMethodTheServerSupports(string method)
    {
        using var host = new OAuthTestHost(server: s => s.AuthMethodsSupported = [method]);

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var registration = Assert.Single(host.Server.RegistrationRequests);
        Assert.Contains($"\"token_endpoint_auth_method\":\"{method}\"", registration.Body);
        Assert.Contains("\"application_type\":\"native\"", registration.Body);
        var token = Assert.Single(host.Server.TokenEndpointRequests);
        Assert.Equal(method == "client_secret_basic", token.Authorization?.Scheme == "Basic");
        Assert.Equal(method == "client_secret_post", token.Form.ContainsKey("client_secret"));
    }

    [Fact]
    public async Task SendAsync_ClientIdMetadataDocumentSupported_UsedInsteadOfRegistration()
    {
        const string cimd = "https://client.example.com/client-metadata.json";
        using var host = new OAuthTestHost(o => o.ClientMetadataDocumentUri = new Uri(cimd), s => s.CimdSupported = true);

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, host.Server.Registrations);
        Assert.Equal(cimd, host.Server.AuthorizationRequests[0]["client_id"]);
        Assert.Equal(cimd, host.Server.TokenEndpointRequests[0].Form["client_id"]);
    }

    [Fact]
    public async Task SendAsync_ClientIdMetadataDocumentNotSupported_FallsBackToRegistration()
    {
        using var host = new OAuthTestHost(o => o.ClientMetadataDocumentUri = new Uri("https://client.example.com/cimd.json"));

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, host.Server.Registrations);
    }

    [Fact]
    public async Task SendAsync_NoClientIdentityPossible_TypedError()
    {
        using var host = new OAuthTestHost(server: s => s.RegistrationEnabled = false);

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal(OAuthFailureReason.ClientAuthentication, ex.Reason);
        Assert.Equal(0, host.Prompts);
    }

    [Fact]
    public async Task SendAsync_OfflineAccessAdvertised_RequestedAndRegisteredWithRefreshGrant()
    {
        using var host = new OAuthTestHost(server: s => { s.AsScopesSupported = ["mcp:basic", "offline_access"]; s.PrmScopesSupported = ["mcp:basic"]; });

        using var response = await host.GetAsync().Within();

        Assert.Equal("mcp:basic offline_access", host.Server.AuthorizationRequests[0]["scope"]);
        Assert.Contains("\"refresh_token\"", host.Server.RegistrationRequests[0].Body);
    }

    [Fact]
    public async Task SendAsync_OfflineAccessNotAdvertised_NeverRequested()
    {
        using var host = new OAuthTestHost(
            o => o.Scopes = ["mcp:basic", "offline_access"],
            s => s.AsScopesSupported = ["mcp:basic", "mcp:read"]);

        using var response = await host.GetAsync().Within();

        Assert.Equal("mcp:basic", host.Server.AuthorizationRequests[0]["scope"]);
    }

    [Theory]
    [InlineData("mcp:basic", new[] { "a", "b" }, new[] { "c" }, "mcp:basic")]
    [InlineData(null, new[] { "mcp:basic", "mcp:read", "mcp:write" }, new[] { "c" }, "mcp:basic mcp:read mcp:write")]
    [InlineData(null, null, new[] { "configured" }, "configured")]
    [InlineData(null, null, null, null)]
    public async Task SendAsync_ScopeSelection_ChallengeThenSupportedThenConfiguredThenOmitted(string? challenge, string[]? supported, string[]? configured, string? expected)
    {
        using var host = new OAuthTestHost(o => o.Scopes = configured, s => { s.ChallengeScope = challenge; s.PrmScopesSupported = supported; });

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, host.Server.AuthorizationRequests[0].GetValueOrDefault("scope"));
    }

    [Fact]
    public async Task SendAsync_InsufficientScope_StepsUpWithUnionAndReplays()
    {
        using var host = new OAuthTestHost(server: s => { s.ChallengeScope = "mcp:basic"; s.RequireScope("/mcp/tools", "mcp:write"); });
        (await host.GetAsync().Within()).Dispose();

        using var response = await host.PostAsync("call", "/mcp/tools").Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("echo:call", await response.Content.ReadAsStringAsync().Within());
        Assert.Equal(2, host.Prompts);
        Assert.Equal("mcp:basic", host.Server.AuthorizationRequests[0]["scope"]);
        Assert.Equal("mcp:basic mcp:write", host.Server.AuthorizationRequests[1]["scope"]);
        Assert.Equal(["mcp:basic", "mcp:write"], host.Provider.CurrentScopes);

        // The stepped-up token now serves the other requests too: no more exchanges.
        using var again = await host.GetAsync().Within();
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(2, host.Server.CodeGrants);
    }

    [Fact]
    public async Task SendAsync_InsufficientScopeForever_BoundedAuthorizationsThenPassesThrough()
    {
        using var host = new OAuthTestHost(server: s => s.RequireScope("/mcp/admin", "mcp:admin zz:impossible"));
        // The fake grants what is asked, so make the second scope impossible to obtain by dropping it at authorization.
        host.Prompt = (context, _) =>
        {
            var stripped = new Uri(context.AuthorizationUri.AbsoluteUri.Replace("%20zz%3Aimpossible", string.Empty));
            return Task.FromResult<AuthorizationResult?>(host.Server.Authorize(stripped));
        };

        using var first = await host.GetAsync("/mcp/admin").Within();
        using var second = await host.GetAsync("/mcp/admin").Within();

        Assert.Equal(HttpStatusCode.Forbidden, first.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, second.StatusCode);
        Assert.True(host.Prompts <= 3, $"prompts: {host.Prompts}");
    }

    [Fact]
    public async Task SendAsync_FailedStepUp_DoesNotPoisonLaterStepUp()
    {
        using var host = new OAuthTestHost(server: s => s.RequireScope("/mcp/tools", "mcp:write"));
        (await host.GetAsync().Within()).Dispose();
        var fail = true;
        host.Prompt = (context, _) => fail
            ? Task.FromException<AuthorizationResult?>(new InvalidOperationException("browser closed"))
            : Task.FromResult<AuthorizationResult?>(host.Server.Authorize(context.AuthorizationUri));

        await Assert.ThrowsAsync<InvalidOperationException>(() => host.GetAsync("/mcp/tools"));
        using (var stillOk = await host.GetAsync().Within())
        {
            Assert.Equal(HttpStatusCode.OK, stillOk.StatusCode); // the old scope set still works
        }

        fail = false;
        using var response = await host.GetAsync("/mcp/tools").Within();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task SendAsync_ExpiredToken_RefreshesKeepingResource()
    {
        using var host = new OAuthTestHost();
        (await host.GetAsync().Within()).Dispose();

        host.Time.Advance(TimeSpan.FromHours(2));
        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, host.Prompts);
        Assert.Equal(1, host.Server.RefreshGrants);
        var refresh = host.Server.TokenEndpointRequests.Single(r => r.Form["grant_type"] == "refresh_token");
        Assert.Equal(FakeMcpAuthServer.ResourceUrl, refresh.Form["resource"]);
        Assert.Equal("rt-1", refresh.Form["refresh_token"]);
    }

    [Fact]
    public async Task SendAsync_RefreshResponseWithoutRefreshToken_KeepsTheOldOne()
    {
        using var host = new OAuthTestHost(server: s => { s.RotateRefreshTokens = false; s.OmitRefreshTokenOnRefresh = true; });
        (await host.GetAsync().Within()).Dispose();

        host.Time.Advance(TimeSpan.FromHours(2));
        (await host.GetAsync().Within()).Dispose();
        host.Time.Advance(TimeSpan.FromHours(2));
        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, host.Server.RefreshGrants);
        Assert.All(host.Server.TokenEndpointRequests.Where(r => r.Form["grant_type"] == "refresh_token"), r => Assert.Equal("rt-1", r.Form["refresh_token"]));
        Assert.Equal(1, host.Prompts);
    }

    [Fact]
    public async Task SendAsync_RefreshInvalidGrant_DropsItAndAuthorizesAgain()
    {
        using var host = new OAuthTestHost();
        (await host.GetAsync().Within()).Dispose();
        // Use the refresh token behind the provider's back: the provider's next refresh gets invalid_grant.
        using (var back = host.Server.CreateClient())
        {
            var form = new FormUrlEncodedContent([new("grant_type", "refresh_token"), new("refresh_token", "rt-1"), new("client_id", "dcr-client-1")]);
            (await back.PostAsync("https://auth.example.com/token", form).Within()).Dispose();
        }

        host.Time.Advance(TimeSpan.FromHours(2));
        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, host.Prompts);
        Assert.Equal(1, host.Server.InvalidGrants);
    }

    [Fact]
    public async Task SendAsync_NonAuthFailure_PassesThrough()
    {
        using var host = new OAuthTestHost();
        using var response = await host.Client.GetAsync(FakeMcpAuthServer.ResourceOrigin + "/elsewhere").Within();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(0, host.Prompts);
    }

    [Fact]
    public async Task SendAsync_ServerRejectsEveryToken_OneRetryThen401()
    {
        using var host = new OAuthTestHost();
        (await host.GetAsync().Within()).Dispose();
        host.Server.RejectEveryToken = true;
        var before = host.Server.ResourceRequests;

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(2, host.Server.ResourceRequests - before); // the request and one replay, never a loop
        Assert.Equal(1, host.Server.RefreshGrants);
    }

    [Fact]
    public async Task ClientCredentials_Basic_OneGrantWithScopeAndResource()
    {
        using var host = new OAuthTestHost(
            o => { o.GrantType = OAuthGrantType.ClientCredentials; o.ClientId = "m2m"; o.ClientSecret = "m2m-secret"; o.Scopes = ["read"]; },
            s => { s.Clients["m2m"] = "m2m-secret"; s.AuthMethodsSupported = ["client_secret_basic"]; });

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var token = Assert.Single(host.Server.TokenEndpointRequests);
        Assert.Equal("client_credentials", token.Form["grant_type"]);
        Assert.Equal("read", token.Form["scope"]);
        Assert.Equal(FakeMcpAuthServer.ResourceUrl, token.Form["resource"]);
        Assert.Equal("Basic", token.Authorization!.Scheme);
        Assert.Equal(0, host.Prompts);
    }

    [Fact]
    public async Task ClientCredentials_PrivateKeyJwt_SignedAssertionForIssuer()
    {
        using var ecdsa = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var key = new ECDsaSecurityKey(ecdsa) { KeyId = "k1" };
        string? audience = null;
        using var host = new OAuthTestHost(
            o => { o.GrantType = OAuthGrantType.ClientCredentials; o.ClientId = "jwt-client"; o.ClientAssertionSigningCredentials = new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256); },
            s => s.AuthMethodsSupported = ["private_key_jwt"]);
        host.Server.AssertionValidator = assertion =>
        {
            var result = new JsonWebTokenHandler().ValidateTokenAsync(assertion, new TokenValidationParameters
            {
                IssuerSigningKey = key,
                ValidIssuer = "jwt-client",
                ValidAudience = "https://auth.example.com",
                ValidateLifetime = false,
            }).GetAwaiter().GetResult();
            if (!result.IsValid) { return null; }
            var jwt = (JsonWebToken)result.SecurityToken;
            audience = jwt.Audiences.Single();
            return jwt.Subject == "jwt-client" && jwt.Id is { Length: > 0 } ? "jwt-client" : null;
        };

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("https://auth.example.com", audience);
        Assert.Equal(1, host.Server.ClientCredentialsGrants);
    }

    [Fact]
    public async Task ClientCredentials_ClientSecretJwt_NegotiatedWhenTheServerAdvertisesOnlyIt_AlgorithmFromMetadata_AssertionForIssuer()
    {
        const string secret = "oauth-jwt-SECRET-0123456789-abcdefghijklmnopqrstuvwxyz"; // 54 bytes: enough for HS384
        var key = new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(secret));
        var jtis = new System.Collections.Concurrent.ConcurrentBag<string>();
        string? algorithm = null;
        using var host = new OAuthTestHost(
            o => { o.GrantType = OAuthGrantType.ClientCredentials; o.ClientId = "hmac-client"; o.ClientSecret = secret; },
            s => { s.AuthMethodsSupported = ["client_secret_jwt"]; s.AuthSigningAlgValuesSupported = ["RS256", "HS384"]; });
        host.Server.AssertionValidator = assertion =>
        {
            var result = new JsonWebTokenHandler().ValidateTokenAsync(assertion, new TokenValidationParameters
            {
                IssuerSigningKey = key,
                ValidAlgorithms = [SecurityAlgorithms.HmacSha384],
                ValidIssuer = "hmac-client",
                ValidAudience = "https://auth.example.com",
                ValidateLifetime = false,
            }).GetAwaiter().GetResult();
            if (!result.IsValid) { return null; }
            var jwt = (JsonWebToken)result.SecurityToken;
            algorithm = jwt.Alg;
            jtis.Add(jwt.Id);
            return jwt.Subject == "hmac-client" && jwt.Id is { Length: > 0 } ? "hmac-client" : null;
        };

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("HS384", algorithm);
        Assert.Single(jtis);
        Assert.Equal(1, host.Server.ClientCredentialsGrants);
    }

    [Fact]
    public async Task TokenCache_RestoredTokenUsedWithoutExchange_NewTokensStored()
    {
        var cache = new MemoryTokenCache();
        using (var first = new OAuthTestHost(o => o.TokenCache = cache))
        {
            (await first.GetAsync().Within()).Dispose();
            Assert.NotNull(cache.Stored);
        }

        // A new provider over the same server state is not possible with a fresh fake, so check the restore path on its own:
        using var host = new OAuthTestHost(o => o.TokenCache = cache);
        var tokens = await host.Provider.GetTokensAsync().Within();
        Assert.Same(cache.Stored, tokens);
        Assert.Equal(0, host.Server.TokenRequests);
        Assert.Equal(0, host.Prompts);
    }

    [Fact]
    public async Task SendAsync_AdditionalAuthorizationParameters_AddedButCannotOverrideProtocol()
    {
        using var host = new OAuthTestHost(o =>
        {
            o.AdditionalAuthorizationParameters["prompt"] = "consent";
            o.AdditionalAuthorizationParameters["code_challenge_method"] = "plain";
            o.AdditionalAuthorizationParameters["state"] = "fixed";
        });

        using var response = await host.GetAsync().Within();

        var authorize = Assert.Single(host.Server.AuthorizationRequests);
        Assert.Equal("consent", authorize["prompt"]);
        Assert.Equal("S256", authorize["code_challenge_method"]);
        Assert.NotEqual("fixed", authorize["state"]);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task SendAsync_AuthServerSelectorChoosesNone_TypedErrorNoPrompt()
    {
        IReadOnlyList<Uri>? offered = null;
        using var host = new OAuthTestHost(o => o.AuthServerSelector = servers => { offered = servers; return null; });

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal(OAuthFailureReason.InvalidInput, ex.Reason);
        Assert.Equal([new Uri("https://auth.example.com")], offered);
        Assert.Equal(0, host.Prompts);
    }

    [Fact]
    public async Task SendAsync_401AskingForMoreScope_StepsUpWithUnion()
    {
        using var host = new OAuthTestHost(server: s => s.ChallengeScope = "mcp:basic");
        (await host.GetAsync().Within()).Dispose();
        host.Server.ChallengeScope = "mcp:extra";
        host.Server.RevokeAllAccessTokens();

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("mcp:basic mcp:extra", host.Server.AuthorizationRequests[^1]["scope"]);
        Assert.Equal(["mcp:basic", "mcp:extra"], host.Provider.CurrentScopes);
    }

    [Fact]
    public void Constructor_AuthorizationCodeWithoutRedirect_ArgumentException()
    {
        using var http = new HttpClient();
        var ex = Assert.Throws<ArgumentException>(() => new ClientOAuthProvider(new Uri("https://mcp.example.com/mcp"), new ClientOAuthOptions { AuthorizationCallbackHandler = (_, _) => Task.FromResult<AuthorizationResult?>(null) }, http));
        Assert.Contains("RedirectUri", ex.Message);
    }

    [Fact]
    public void Constructor_PrivateKeyJwtWithoutKey_ArgumentException()
    {
        using var http = new HttpClient();
        var options = new ClientOAuthOptions { GrantType = OAuthGrantType.ClientCredentials, ClientId = "c", ClientSecret = "s", TokenEndpointAuthMethod = "private_key_jwt" };
        Assert.Throws<ArgumentException>(() => new ClientOAuthProvider(new Uri("https://mcp.example.com/mcp"), options, http));
    }

    [Fact]
    public async Task Errors_NeverContainSecrets()
    {
        const string secret = "very-secret-value";
        using var host = new OAuthTestHost(
            o => { o.GrantType = OAuthGrantType.ClientCredentials; o.ClientId = "m2m"; o.ClientSecret = secret; },
            s => s.Clients["m2m"] = "another");

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal("invalid_client", ex.Error);
        Assert.DoesNotContain(secret, ex.ToString());
        Assert.DoesNotContain(secret, new ClientRegistration("m2m", secret, "client_secret_basic").ToString());
        Assert.DoesNotContain("the-code", new AuthorizationResult { Code = "the-code" }.ToString());
    }

    [Fact]
    public void AuthorizationResult_FromRedirectUri_ReadsCodeStateIss()
    {
        var result = AuthorizationResult.FromRedirectUri(new Uri("http://127.0.0.1/cb?code=a%2Bb&state=s+1&iss=https%3A%2F%2Fas"));
        Assert.Equal("a+b", result.Code);
        Assert.Equal("s 1", result.State);
        Assert.Equal("https://as", result.Iss);
    }

    private sealed class MemoryTokenCache : ITokenCache
    {
        public TokenContainer? Stored { get; private set; }

        public ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct)
        {
            Stored = tokens;
            return ValueTask.CompletedTask;
        }

        public ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct) => ValueTask.FromResult(Stored);
    }
}
