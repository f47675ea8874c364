using System.Net;
using System.Text;
using CsCheck;
using LockFree.Auth.Testing;

namespace LockFree.Auth.Tests.CrossAppAccess;

public sealed class CrossApplicationAccessProviderFailureTests
{
    private static readonly string[] Secrets =
        [CrossAppFixture.IdToken, CrossAppFixture.ClientSecret, CrossAppFixture.IdpClientSecret, "idp-idjag-", "as-access-", "SECRET"];

    private readonly CrossAppFixture _world = new();

    private static void AssertNoSecrets(string text)
    {
        foreach (var secret in Secrets)
        {
            Assert.DoesNotContain(secret, text);
        }
    }

    private static string Describe(Exception ex)
    {
        var builder = new StringBuilder();
        for (var e = ex; e is not null; e = e.InnerException) { builder.Append(e.Message).Append(' ').Append(e.ToString()); }
        return builder.ToString();
    }

    [Fact]
    public async Task GetAccessTokenAsync_IdpOAuthError_ThrowsWithOAuthFieldsToEveryWaiterThenRetries()
    {
        using var provider = _world.CreateProvider();
        var gate = _world.Idp.HoldTokens();
        _world.Idp.TokenResponder = _ => FakeResponses.OAuthError("invalid_grant", "The subject token is expired.", HttpStatusCode.BadRequest, "https://idp.example.com/help");

        var waiters = Enumerable.Range(0, 8).Select(_ => provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri)).ToArray();
        await gate.WaitForArrivalsAsync(1).Within();
        gate.Release();
        var errors = new List<CrossApplicationAccessException>();
        foreach (var waiter in waiters) { errors.Add(await Assert.ThrowsAsync<CrossApplicationAccessException>(() => waiter)); }

        var ex = errors[0];
        Assert.All(errors, e => Assert.Same(ex, e));
        Assert.Equal("invalid_grant", ex.Error);
        Assert.Equal("The subject token is expired.", ex.ErrorDescription);
        Assert.Equal(new Uri("https://idp.example.com/help"), ex.ErrorUri);
        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal(OAuthFailureReason.ErrorResponse, ex.Reason);
        Assert.Contains("identity provider", ex.Message);
        Assert.Contains("invalid_grant", ex.Message);
        AssertNoSecrets(Describe(ex));
        Assert.Equal(1, _world.Idp.TokenRequests);

        _world.Idp.TokenResponder = null;
        _world.Idp.UnholdTokens();
        var token = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        Assert.Equal("as-access-1", token.AccessToken);
    }

    [Fact]
    public async Task GetAccessTokenAsync_AsOAuthError_ThrowsCrossAppExceptionNamingStep()
    {
        using var provider = _world.CreateProvider();
        _world.As.TokenResponder = _ => FakeResponses.OAuthError("invalid_client", "Client authentication failed.", HttpStatusCode.Unauthorized);

        var ex = await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri));

        Assert.Equal("invalid_client", ex.Error);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Contains("JWT bearer grant", ex.Message);
        Assert.IsAssignableFrom<OAuthException>(ex);
        AssertNoSecrets(Describe(ex));
    }

    public static TheoryData<string, Action<CrossAppFixture>, OAuthFailureReason> BrokenWorlds() => new()
    {
        { "wrong issued_token_type", w => w.Idp.IssuedTokenType = "urn:ietf:params:oauth:token-type:access_token", OAuthFailureReason.UnexpectedTokenType },
        { "wrong AS token_type", w => w.As.TokenType = "DPoP", OAuthFailureReason.UnexpectedTokenType },
        { "IdP 500 HTML", w => w.Idp.TokenResponder = _ => FakeResponses.Text("<html>down</html>", HttpStatusCode.InternalServerError), OAuthFailureReason.UnexpectedStatus },
        { "AS garbage", w => w.As.TokenResponder = _ => FakeResponses.Raw([0xff, 0xfe, 0x00, 0x7b]), OAuthFailureReason.MalformedResponse },
        { "AS missing access_token", w => w.As.TokenResponder = _ => FakeResponses.Json("""{"token_type":"Bearer"}"""), OAuthFailureReason.MalformedResponse },
        { "IdP oversized", w => w.Idp.TokenResponder = _ => FakeResponses.Json("{\"pad\":\"" + new string('x', 2 * 1024 * 1024) + "\"}"), OAuthFailureReason.ResponseTooLarge },
        { "metadata issuer mismatch", w => w.Handler.Override(w.As.MetadataUrl, () => FakeResponses.Json("""{"issuer":"https://evil.example.com","token_endpoint":"https://evil.example.com/token"}""")), OAuthFailureReason.IssuerMismatch },
        { "metadata missing", w => w.Handler.Override(w.As.MetadataUrl, () => FakeResponses.Status(HttpStatusCode.NotFound)), OAuthFailureReason.MetadataNotFound },
        { "metadata without token_endpoint", w => w.Handler.Override(w.As.MetadataUrl, () => FakeResponses.Json("""{"issuer":"https://as.example.com"}""")), OAuthFailureReason.MalformedResponse },
        { "AS token endpoint plain http", w => w.As.TokenEndpoint = "http://as.example.com/token", OAuthFailureReason.InsecureEndpoint },
        { "empty ID token", w => w.CallbackOverride = (_, _) => Task.FromResult(""), OAuthFailureReason.InvalidInput },
        { "callback throws", w => w.CallbackOverride = (_, _) => throw new InvalidOperationException("app failure with " + CrossAppFixture.IdToken), OAuthFailureReason.InvalidInput },
        { "callback cancels by itself", w => w.CallbackOverride = (_, _) => Task.FromCanceled<string>(new CancellationToken(canceled: true)), OAuthFailureReason.InvalidInput },
        { "IdP unreachable", w => w.Idp.TokenResponder = _ => throw new HttpRequestException("refused"), OAuthFailureReason.Unreachable },
    };

    [Theory]
    [MemberData(nameof(BrokenWorlds))]
    public async Task GetAccessTokenAsync_BrokenStep_ThrowsTypedExceptionNothingCachedNextCallRetries(string name, Action<CrossAppFixture> breakIt, OAuthFailureReason reason)
    {
        var world = new CrossAppFixture();
        breakIt(world);
        using var provider = world.CreateProvider();

        var ex = await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(world.ResourceUri, world.AsUri));

        Assert.True(ex.Reason == reason, $"{name}: expected {reason}, got {ex.Reason}: {ex.Message}");
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
        Assert.DoesNotContain(CrossAppFixture.IdToken, ex.Message);
        Assert.DoesNotContain(CrossAppFixture.ClientSecret, ex.Message);
        Assert.DoesNotContain(CrossAppFixture.IdpClientSecret, ex.Message);
        Assert.Null(provider.CoordinatorFor(world.ResourceUri, world.AsUri).Current.Value);
        var started = provider.CoordinatorFor(world.ResourceUri, world.AsUri).Statistics.AcquisitionsStarted;
        await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(world.ResourceUri, world.AsUri));
        Assert.Equal(started + 1, provider.CoordinatorFor(world.ResourceUri, world.AsUri).Statistics.AcquisitionsStarted);
    }

    [Fact]
    public async Task GetAccessTokenAsync_PlainHttpIdpEndpoint_ThrowsInsecureEndpointWithoutSendingIdToken()
    {
        using var provider = _world.CreateProvider(o => o.IdpTokenEndpoint = "http://idp.example.com/token");

        var ex = await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri));

        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
        Assert.Contains("http://idp.example.com/token", ex.Message);
        Assert.Equal(0, _world.Idp.TokenRequests);
    }

    [Fact]
    public async Task GetAccessTokenAsync_PlainHttpAuthorizationServer_ThrowsInsecureEndpoint()
    {
        using var provider = _world.CreateProvider();

        var ex = await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(_world.ResourceUri, new Uri("http://as.example.com")));

        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
        Assert.Equal(0, _world.Handler.TotalRequests);
    }

    [Fact]
    public async Task GetAccessTokenAsync_LoopbackHttpEverywhere_Works()
    {
        var world = new CrossAppFixture();
        var localAs = new FakeOAuthServer(world.Handler, "http://127.0.0.1:5001", "local-as");
        _ = new FakeOAuthServer(world.Handler, "http://localhost:5002", "local-idp");
        using var provider = world.CreateProvider(o => o.IdpTokenEndpoint = "http://localhost:5002/token");

        var token = await provider.GetAccessTokenAsync(new Uri("http://localhost:5000/mcp"), new Uri("http://127.0.0.1:5001")).Within();

        Assert.Equal("local-as-access-1", token.AccessToken);
        Assert.Equal(1, localAs.TokenRequests);
    }

    [Fact]
    public async Task GetAccessTokenAsync_Logs_NeverContainSecrets()
    {
        using var provider = _world.CreateProvider();
        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        provider.InvalidateCache("as-access-1");
        _world.As.TokenResponder = _ => FakeResponses.OAuthError("invalid_grant");
        await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri));
        provider.InvalidateCache();

        var logs = _world.Logs.Messages;
        Assert.Contains(logs, m => m.Contains("Obtained an access token"));
        Assert.Contains(logs, m => m.StartsWith("Warning") && m.Contains("invalid_grant"));
        foreach (var message in logs) { AssertNoSecrets(message); }
    }

    [Fact]
    public void GetAccessTokenAsync_GarbledServerResponses_OnlyTypedException()
    {
        var garbage = Gen.OneOf(
            Gen.Byte.Array[0, 200],
            Gen.String.Select(s => Encoding.UTF8.GetBytes(s)),
            Gen.OneOf(new[]
            {
                "{}", "[]", "null", "{\"access_token\":null}", "{\"access_token\":\"a\",\"token_type\":7}",
                "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":-5}", "{\"error\":\"\"}", "{\"error\":[1]}",
                "{\"access_token\":\"a\",\"token_type\":\"N_A\",\"issued_token_type\":{}}", "{\"issuer\":\"https://as.example.com\",\"token_endpoint\":5}",
                "{\"issuer\":\"https://as.example.com\",\"token_endpoint\":\"javascript:alert(1)\"}", "{\"a\":" + new string('[', 100) + "}",
            }).Select(s => Encoding.UTF8.GetBytes(s)));
        var statuses = Gen.OneOf(new[] { HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.BadRequest, HttpStatusCode.Unauthorized, HttpStatusCode.InternalServerError });
        var target = Gen.Int[0, 2];

        Gen.Select(garbage, statuses, target).Sample((body, status, which) =>
        {
            var world = new CrossAppFixture();
            var url = which switch { 0 => world.As.MetadataUrl, 1 => world.Idp.TokenEndpoint, _ => world.As.TokenEndpoint };
            world.Handler.Override(url, () => FakeResponses.Raw(body, status));
            using var provider = world.CreateProvider();
            try
            {
                provider.GetAccessTokenAsync(world.ResourceUri, world.AsUri).GetAwaiter().GetResult();
            }
            catch (CrossApplicationAccessException ex)
            {
                AssertNoSecrets(ex.Message);
            }
        }, iter: 600, threads: 1);
    }
}
