using System.Net;
using LockFree.Auth.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.Http;

public sealed class AuthorizationServerDiscoveryTests
{
    private readonly FakeHttpHandler _handler = new();
    private readonly FakeTimeProvider _time = new();

    private AuthorizationServerDiscovery CreateDiscovery() => new(new BackChannel(_handler.CreateClient(), _time));

    [Fact]
    public void GetDiscoveryUris_IssuerWithPath_InsertionThenAppending()
    {
        var uris = AuthorizationServerDiscovery.GetDiscoveryUris(new Uri("https://as.example.com/tenant/1/"));

        Assert.Equal(
            [
                "https://as.example.com/.well-known/oauth-authorization-server/tenant/1",
                "https://as.example.com/.well-known/openid-configuration/tenant/1",
                "https://as.example.com/tenant/1/.well-known/openid-configuration",
            ],
            uris.Select(u => u.AbsoluteUri));
    }

    [Fact]
    public void GetDiscoveryUris_IssuerWithoutPath_RootVariants()
    {
        var uris = AuthorizationServerDiscovery.GetDiscoveryUris(new Uri("https://as.example.com:8443"));

        Assert.Equal(
            ["https://as.example.com:8443/.well-known/oauth-authorization-server", "https://as.example.com:8443/.well-known/openid-configuration"],
            uris.Select(u => u.AbsoluteUri));
    }

    [Theory]
    [InlineData("http://as.example.com")]
    [InlineData("https://as.example.com/?tenant=1")]
    public void GetDiscoveryUris_UnusableIssuer_ThrowsInsecureEndpoint(string issuer)
    {
        var ex = Assert.Throws<OAuthException>(() => AuthorizationServerDiscovery.GetDiscoveryUris(new Uri(issuer)));
        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
    }

    [Fact]
    public async Task DiscoverAsync_Rfc8414AtPathInsertion_ParsesEveryField()
    {
        var server = new FakeOAuthServer(_handler, "https://as.example.com/tenant");
        server.ExtraMetadata["registration_endpoint"] = "https://as.example.com/tenant/register";
        server.ExtraMetadata["scopes_supported"] = new[] { "openid", "mcp" };
        server.ExtraMetadata["client_id_metadata_document_supported"] = true;
        server.ExtraMetadata["authorization_response_iss_parameter_supported"] = true;
        using var discovery = CreateDiscovery();

        var metadata = await discovery.DiscoverAsync(new Uri("https://as.example.com/tenant"), default);

        Assert.Equal(new Uri("https://as.example.com/tenant"), metadata.Issuer);
        Assert.Equal(new Uri("https://as.example.com/tenant/token"), metadata.TokenEndpoint);
        Assert.Equal(new Uri("https://as.example.com/tenant/authorize"), metadata.AuthorizationEndpoint);
        Assert.Equal(new Uri("https://as.example.com/tenant/register"), metadata.RegistrationEndpoint);
        Assert.Equal(["openid", "mcp"], metadata.ScopesSupported);
        Assert.Equal(["S256"], metadata.CodeChallengeMethodsSupported);
        Assert.Contains("client_secret_basic", metadata.TokenEndpointAuthMethodsSupported!);
        Assert.Contains("urn:ietf:params:oauth:grant-type:jwt-bearer", metadata.GrantTypesSupported!);
        Assert.True(metadata.ClientIdMetadataDocumentSupported);
        Assert.True(metadata.AuthorizationResponseIssParameterSupported);
        Assert.Null(metadata.JwksUri);
        Assert.Equal(1, server.MetadataRequests);
    }

    [Fact]
    public async Task DiscoverAsync_OnlyOpenIdPathAppended_FallsBackInOrder()
    {
        const string issuer = "https://idp.example.com/realms/a";
        _handler.On(HttpMethod.Get, issuer + "/.well-known/openid-configuration",
            _ => FakeResponses.Json($$"""{"issuer":"{{issuer}}","token_endpoint":"{{issuer}}/token"}"""));
        _handler.On(HttpMethod.Get, "https://idp.example.com/.well-known/openid-configuration/realms/a", _ => FakeResponses.Text("<html>app</html>"));
        using var discovery = CreateDiscovery();

        var metadata = await discovery.DiscoverAsync(new Uri(issuer), default);

        Assert.Equal(new Uri(issuer + "/token"), metadata.TokenEndpoint);
        Assert.Equal(
            [
                "https://idp.example.com/.well-known/oauth-authorization-server/realms/a",
                "https://idp.example.com/.well-known/openid-configuration/realms/a",
                "https://idp.example.com/realms/a/.well-known/openid-configuration",
            ],
            _handler.Requests.Select(r => r.Uri.AbsoluteUri));
        Assert.Null(metadata.TokenEndpointAuthMethodsSupported);
    }

    [Fact]
    public async Task DiscoverAsync_IssuerMismatch_ThrowsIssuerMismatch()
    {
        _handler.On(HttpMethod.Get, "https://as.example.com/.well-known/oauth-authorization-server",
            _ => FakeResponses.Json("""{"issuer":"https://evil.example.com","token_endpoint":"https://evil.example.com/token"}"""));
        using var discovery = CreateDiscovery();

        var ex = await Assert.ThrowsAsync<OAuthException>(() => discovery.DiscoverAsync(new Uri("https://as.example.com"), default));

        Assert.Equal(OAuthFailureReason.IssuerMismatch, ex.Reason);
        Assert.Contains("https://evil.example.com", ex.Message);
    }

    [Theory]
    [InlineData("https://as.example.com/", "https://as.example.com")]
    [InlineData("https://AS.example.com", "https://as.example.com")]
    [InlineData("https://as.example.com:443", "https://as.example.com")]
    public async Task DiscoverAsync_EquivalentIssuerSpelling_Accepted(string published, string asked)
    {
        _handler.On(HttpMethod.Get, "https://as.example.com/.well-known/oauth-authorization-server",
            _ => FakeResponses.Json($$"""{"issuer":"{{published}}","token_endpoint":"https://as.example.com/token"}"""));
        using var discovery = CreateDiscovery();

        var metadata = await discovery.DiscoverAsync(new Uri(asked), default);

        Assert.Equal(new Uri("https://as.example.com/token"), metadata.TokenEndpoint);
    }

    [Fact]
    public async Task DiscoverAsync_NothingFound_ThrowsMetadataNotFoundListingLocations()
    {
        using var discovery = CreateDiscovery();

        var ex = await Assert.ThrowsAsync<OAuthException>(() => discovery.DiscoverAsync(new Uri("https://as.example.com"), default));

        Assert.Equal(OAuthFailureReason.MetadataNotFound, ex.Reason);
        Assert.Contains("/.well-known/openid-configuration", ex.Message);
        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Equal(2, _handler.TotalRequests);
    }

    [Fact]
    public async Task DiscoverAsync_MalformedField_ThrowsMalformed()
    {
        _handler.On(HttpMethod.Get, "https://as.example.com/.well-known/oauth-authorization-server",
            _ => FakeResponses.Json("""{"issuer":"https://as.example.com","token_endpoint":"not a uri"}"""));
        using var discovery = CreateDiscovery();

        var ex = await Assert.ThrowsAsync<OAuthException>(() => discovery.DiscoverAsync(new Uri("https://as.example.com"), default));

        Assert.Equal(OAuthFailureReason.MalformedResponse, ex.Reason);
        Assert.Contains("token_endpoint", ex.Message);
    }

    [Fact]
    public async Task GetAsync_ConcurrentCallers_OneFetchSameInstance()
    {
        var server = new FakeOAuthServer(_handler, "https://as.example.com");
        var gate = _handler.Hold(server.MetadataUrl);
        using var discovery = CreateDiscovery();
        var issuer = new Uri("https://as.example.com");

        var callers = Enumerable.Range(0, 64).Select(_ => discovery.GetAsync(issuer, default)).ToArray();
        await gate.WaitForArrivalsAsync(1);
        gate.Release();
        var results = await Task.WhenAll(callers);

        Assert.Equal(1, server.MetadataRequests);
        Assert.All(results, r => Assert.Same(results[0], r));
    }

    [Fact]
    public async Task GetAsync_AfterInvalidateAll_FetchesAgain()
    {
        var server = new FakeOAuthServer(_handler, "https://as.example.com");
        using var discovery = CreateDiscovery();
        var issuer = new Uri("https://as.example.com");

        var first = await discovery.GetAsync(issuer, default);
        var cached = await discovery.GetAsync(issuer, default);
        discovery.InvalidateAll();
        var refetched = await discovery.GetAsync(issuer, default);

        Assert.Same(first, cached);
        Assert.NotSame(first, refetched);
        Assert.Equal(2, server.MetadataRequests);
    }

    [Fact]
    public async Task GetAsync_Failure_NotCachedNextCallRetries()
    {
        var server = new FakeOAuthServer(_handler, "https://as.example.com");
        _handler.Override(server.MetadataUrl, () => FakeResponses.Status(HttpStatusCode.ServiceUnavailable));
        using var discovery = CreateDiscovery();
        var issuer = new Uri("https://as.example.com");

        await Assert.ThrowsAsync<OAuthException>(() => discovery.GetAsync(issuer, default));
        _handler.ClearOverride(server.MetadataUrl);
        var metadata = await discovery.GetAsync(issuer, default);

        Assert.Equal(new Uri(server.TokenEndpoint), metadata.TokenEndpoint);
    }
}
