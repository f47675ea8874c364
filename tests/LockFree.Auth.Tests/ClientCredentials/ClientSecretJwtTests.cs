using LockFree.Auth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Tests.ClientCredentials;

/// <summary>
/// <c>client_secret_jwt</c> (RFC 7523 §2.2) for the client-credentials manager: a fake token endpoint verifies each
/// HMAC assertion (signature with the secret, iss/sub/aud/exp, a jti never reused); the secret is never sent; neither
/// the secret nor an assertion reaches a log or an exception; a secret too short for the algorithm is a typed error.
/// </summary>
public sealed class ClientSecretJwtTests
{
    /// <summary>40 bytes: long enough for HS256 (32), too short for HS512 (64).</summary>
    private const string Secret = "jwt-secret-SECRET-0123456789-abcdefghijk";

    /// <summary>64 bytes: long enough for every HMAC algorithm.</summary>
    private const string LongSecret = "jwt-secret-SECRET-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH";

    [Fact]
    public async Task GetAccessToken_ClientSecretJwt_EndpointVerifiesEachHs256Assertion_FreshJti_SecretNeverSent()
    {
        var world = new ClientCredentialsFixture();
        var verifier = new ClientSecretJwtVerifier(Secret, "billing-client", world.Server.TokenEndpoint, world.Time);
        world.Server.TokenResponder = verifier.Respond;
        world.Server.ExpiresIn = 60;
        using var manager = world.Manager(o => { o.ClientAuthenticationMethod = ClientCredentialsClientOptions.ClientSecretJwt; o.ClientSecret = Secret; });

        var first = await manager.GetAccessTokenAsync("billing").Within();
        var other = await manager.GetAccessTokenAsync("billing", new ClientCredentialsTokenRequest { Scope = "other" }).Within();
        world.Time.Advance(TimeSpan.FromMinutes(2));
        var renewed = await manager.GetAccessTokenAsync("billing").Within();

        Assert.Empty(verifier.Rejections);
        Assert.Equal(3, verifier.Accepted);
        Assert.NotEqual(first.AccessToken, renewed.AccessToken);
        var requests = world.Server.TokenRequestsReceived;
        Assert.Equal(3, requests.Count);
        var assertions = requests.Select(r => r["client_assertion"]!).ToArray();
        Assert.Equal(3, assertions.Distinct(StringComparer.Ordinal).Count());
        Assert.All(assertions, a => Assert.Equal("HS256", new JsonWebToken(a).Alg));
        Assert.All(requests, r =>
        {
            Assert.Null(r.Authorization);
            Assert.DoesNotContain("SECRET", r.Body, StringComparison.Ordinal);
        });
        Assert.NotEmpty(world.Logs.Entries);
        Assert.All(world.Logs.Entries, e =>
        {
            Assert.DoesNotContain(Secret, e.Message, StringComparison.Ordinal);
            Assert.All(assertions, a => Assert.DoesNotContain(a, e.Message, StringComparison.Ordinal));
            Assert.All(assertions, a => Assert.DoesNotContain(a.Split('.')[2], e.Message, StringComparison.Ordinal));
        });
        Assert.NotEqual(first.AccessToken, other.AccessToken);
    }

    [Fact]
    public async Task GetAccessToken_ClientSecretJwt_WithAuthority_AudienceIsIssuer_AlgorithmFromMetadata()
    {
        var world = new ClientCredentialsFixture();
        world.Server.ExtraMetadata["token_endpoint_auth_signing_alg_values_supported"] = new[] { "RS256", "ES256", "HS512" };
        var verifier = new ClientSecretJwtVerifier(LongSecret, "billing-client", ClientCredentialsFixture.Issuer, world.Time, SecurityAlgorithms.HmacSha512);
        world.Server.TokenResponder = verifier.Respond;
        using var manager = world.Manager(o =>
        {
            o.TokenEndpoint = null;
            o.Authority = new Uri(ClientCredentialsFixture.Issuer);
            o.ClientAuthenticationMethod = ClientCredentialsClientOptions.ClientSecretJwt;
            o.ClientSecret = LongSecret;
        });

        await manager.GetAccessTokenAsync("billing").Within();

        Assert.Empty(verifier.Rejections);
        Assert.Equal(1, verifier.Accepted);
        Assert.Equal("HS512", new JsonWebToken(Assert.Single(world.Server.TokenRequestsReceived)["client_assertion"]).Alg);
    }

    [Theory]
    [InlineData(new[] { "RS256", "HS512" }, "HS512", "64 bytes")]
    [InlineData(new[] { "RS256", "ES256" }, "lists no HMAC algorithm", "token_endpoint_auth_signing_alg_values_supported")]
    public async Task GetAccessToken_ClientSecretJwt_ServerAcceptsNoUsableAlgorithm_TypedFailureBeforeSending(string[] algorithms, string expected1, string expected2)
    {
        var world = new ClientCredentialsFixture();
        world.Server.ExtraMetadata["token_endpoint_auth_signing_alg_values_supported"] = algorithms;
        using var manager = world.Manager(o =>
        {
            o.TokenEndpoint = null;
            o.Authority = new Uri(ClientCredentialsFixture.Issuer);
            o.ClientAuthenticationMethod = ClientCredentialsClientOptions.ClientSecretJwt;
            o.ClientSecret = Secret;
        });

        var failure = await Assert.ThrowsAsync<OAuthException>(() => manager.GetAccessTokenAsync("billing").Within());

        Assert.Equal(OAuthFailureReason.ClientAuthentication, failure.Reason);
        Assert.Contains(expected1, failure.Message, StringComparison.Ordinal);
        Assert.Contains(expected2, failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, failure.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, world.Server.TokenRequests);
        Assert.All(world.Logs.Entries, e => Assert.DoesNotContain(Secret, e.Message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcde", false)] // 31 bytes
    [InlineData("0123456789abcdef0123456789abcdef", true)] // 32 bytes
    [InlineData("éééééééééééééééé", true)] // 16 characters, 32 UTF-8 bytes
    public void Validate_ClientSecretJwt_SecretOfAtLeast32Bytes(string secret, bool valid)
    {
        var options = new ClientCredentialsFixture().Options(o => { o.ClientAuthenticationMethod = ClientCredentialsClientOptions.ClientSecretJwt; o.ClientSecret = secret; });

        var errors = options.Validate("LockFree:Clients:billing:");

        if (valid)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.Equal(
                "LockFree:Clients:billing:ClientSecret must be at least 32 bytes (UTF-8) long for client_secret_jwt with HS256 (RFC 7518 §3.2: an HMAC key as long as the hash output).",
                Assert.Single(errors));
        }
    }

    [Fact]
    public void Constructor_ClientSecretJwtWithShortSecret_ArgumentExceptionNamingTheOptionNotTheSecret()
    {
        const string shortSecret = "short-SECRET-value";
        var world = new ClientCredentialsFixture();

        var error = Assert.Throws<ArgumentException>(() => world.Manager(o => { o.ClientAuthenticationMethod = ClientCredentialsClientOptions.ClientSecretJwt; o.ClientSecret = shortSecret; }));

        Assert.Contains("'billing'", error.Message, StringComparison.Ordinal);
        Assert.Contains("ClientSecret must be at least 32 bytes", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(shortSecret, error.Message, StringComparison.Ordinal);
        Assert.Contains(
            "ClientSecret is required for client_secret_jwt.",
            new ClientCredentialsClientOptions { TokenEndpoint = new Uri("https://as.example.com/token"), ClientId = "c", ClientAuthenticationMethod = "client_secret_jwt" }.Validate());
    }

    [Fact]
    public void ClientAuthenticationCreate_ClientSecretJwtWithShortSecret_OAuthExceptionWithoutTheSecret()
    {
        const string shortSecret = "short-SECRET-value";

        var error = Assert.Throws<OAuthException>(() => ClientAuthentication.Create("client_secret_jwt", "c", shortSecret, assertion: null));

        Assert.Equal(OAuthFailureReason.ClientAuthentication, error.Reason);
        Assert.Contains("at least 32 bytes", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(shortSecret, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(shortSecret, ClientAuthentication.Create("client_secret_jwt", "c", Secret, assertion: null).ToString(), StringComparison.Ordinal);
    }

    /// <summary>The fake endpoint's checks are not vacuous: each broken assertion is refused.</summary>
    [Fact]
    public async Task Verifier_RefusesForgedReplayedExpiredAndMisaddressedAssertions()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        const string endpoint = "https://as.example.com/token";
        var context = new ClientAuthenticationContext(new Uri(endpoint), null, time);
        var verifier = new ClientSecretJwtVerifier(Secret, "billing-client", endpoint, time);

        async Task<FakeRequest> RequestAsync(ClientAuthentication authentication, ClientAuthenticationContext? other = null)
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, endpoint);
            var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials") };
            await authentication.ApplyAsync(message, form, other ?? context, default);
            var body = await new FormUrlEncodedContent(form).ReadAsStringAsync();
            return new FakeRequest(HttpMethod.Post, new Uri(endpoint), message.Headers.Authorization?.ToString(), body, form.ToDictionary(p => p.Key, p => p.Value));
        }

        var good = await RequestAsync(ClientAuthentication.Create("client_secret_jwt", "billing-client", Secret, assertion: null));
        Assert.Null(verifier.Check(good));
        Assert.Equal("jti missing or reused", verifier.Check(good)); // replayed
        var forged = await RequestAsync(ClientAuthentication.Create("client_secret_jwt", "billing-client", Secret.ToUpperInvariant(), assertion: null));
        Assert.StartsWith("signature", verifier.Check(forged), StringComparison.Ordinal);
        var misaddressed = await RequestAsync(ClientAuthentication.Create("client_secret_jwt", "billing-client", Secret, assertion: null), context with { Issuer = new Uri("https://other.example.com") });
        Assert.StartsWith("signature", verifier.Check(misaddressed), StringComparison.Ordinal);
        var otherClient = await RequestAsync(ClientAuthentication.Create("client_secret_jwt", "other-client", Secret, assertion: null));
        Assert.NotNull(verifier.Check(otherClient));
        var longLived = await RequestAsync(ClientAuthentication.Create("client_secret_jwt", "billing-client", Secret, new ClientAssertionOptions(null, TimeSpan.FromHours(1), ClientAssertionJwtTypes.ClientAuthentication)));
        Assert.StartsWith("exp", verifier.Check(longLived), StringComparison.Ordinal);
        var expired = await RequestAsync(ClientAuthentication.Create("client_secret_jwt", "billing-client", Secret, assertion: null));
        time.Advance(TimeSpan.FromMinutes(6));
        Assert.StartsWith("exp", verifier.Check(expired), StringComparison.Ordinal);
        var post = await RequestAsync(ClientAuthentication.Create("client_secret_post", "billing-client", Secret));
        Assert.Equal("the secret (or an Authorization header) was sent", verifier.Check(post));
        var hs384 = await RequestAsync(ClientAuthentication.Create("client_secret_jwt", "billing-client", LongSecret, assertion: null), context with { SigningAlgorithms = ["HS384"] });
        Assert.StartsWith("signature", new ClientSecretJwtVerifier(LongSecret, "billing-client", endpoint, time).Check(hs384), StringComparison.Ordinal);
        Assert.Equal(
            "The authorization server accepts no HMAC algorithm for client_secret_jwt that the client secret is long enough for. The client secret must be at least 48 bytes (UTF-8) long for client_secret_jwt with HS384 (RFC 7518 §3.2: an HMAC key as long as the hash output).",
            (await Assert.ThrowsAsync<OAuthException>(() => RequestAsync(ClientAuthentication.Create("client_secret_jwt", "billing-client", Secret, assertion: null), context with { SigningAlgorithms = ["HS384"] }))).Message);
    }
}
