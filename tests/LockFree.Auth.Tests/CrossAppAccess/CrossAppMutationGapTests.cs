using System.Text;
using LockFree.Auth.Testing;

namespace LockFree.Auth.Tests.CrossAppAccess;

/// <summary>
/// Tests for mutants of <c>CrossApplicationAccessProvider.cs</c> that survived the providers' Stryker run
/// (spec/mutation-testing.md, "Score: providers"): the invalidation events of the log catalogue, the argument errors
/// and their messages, and a disposed provider's failure delivered through the task.
/// </summary>
public sealed class CrossAppMutationGapTests
{
    private readonly CrossAppFixture _world = new();

    [Fact]
    public async Task InvalidateCache_All_LoggedOnce()
    {
        using var provider = _world.CreateProvider();
        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        provider.InvalidateCache();

        Assert.Single(_world.Logs.Messages, m => m.Contains("Cross-app access cache invalidated (tokens and metadata).", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InvalidateCache_RejectedToken_RetiredAndLoggedWithItsKey_UnknownTokenNeither()
    {
        using var provider = _world.CreateProvider();
        var token = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.False(provider.InvalidateCache("never-issued"));
        Assert.True(provider.InvalidateCache(token.AccessToken));

        var line = Assert.Single(_world.Logs.Messages, m => m.Contains("Rejected access token for resource", StringComparison.Ordinal));
        Assert.Contains(CrossAppFixture.Resource, line, StringComparison.Ordinal);
        Assert.Contains(CrossAppFixture.AsIssuer, line, StringComparison.Ordinal);
        Assert.DoesNotContain(token.AccessToken, line, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidateCache_NullToken_ArgumentNullExceptionNamingTheParameter()
    {
        using var provider = _world.CreateProvider();

        var ex = Assert.Throws<ArgumentNullException>(() => provider.InvalidateCache(null!));

        Assert.Equal("rejectedAccessToken", ex.ParamName);
    }

    [Fact]
    public void GetAccessTokenAsync_RelativeUrls_ArgumentExceptionNamingEach()
    {
        using var provider = _world.CreateProvider();

        var resource = Assert.Throws<ArgumentException>(() => { _ = provider.GetAccessTokenAsync(new Uri("/mcp", UriKind.Relative), _world.AsUri); });
        var server = Assert.Throws<ArgumentException>(() => { _ = provider.GetAccessTokenAsync(_world.ResourceUri, new Uri("/as", UriKind.Relative)); });

        Assert.Equal("resourceUrl", resource.ParamName);
        Assert.StartsWith("The resource URL must be an absolute URI.", resource.Message, StringComparison.Ordinal);
        Assert.Equal("authorizationServerUrl", server.ParamName);
        Assert.StartsWith("The authorization server URL must be an absolute URI.", server.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetAccessTokenAsync_AfterDispose_ObjectDisposedDeliveredThroughTheTask()
    {
        var provider = _world.CreateProvider();
        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        provider.Dispose();

        // A key the provider has not seen: the documented contract is a faulted task, not a synchronous throw.
        var task = provider.GetAccessTokenAsync(new Uri("https://other.example.com/mcp"), _world.AsUri);

        Assert.True(task.IsFaulted, "the ObjectDisposedException must be delivered through the task");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => task).Within();
    }
    [Fact]
    public async Task IdpDiscoveredFromIdpUrl_SecretNegotiatedAgainstItsMetadata_ClientSecretBasic()
    {
        using var provider = _world.CreateProvider(o => { o.IdpTokenEndpoint = null; o.IdpUrl = CrossAppFixture.IdpIssuer; });

        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        var exchange = Assert.Single(_world.Idp.TokenRequestsReceived);
        Assert.NotNull(exchange.Authorization);
        Assert.Equal("idp-client:" + CrossAppFixture.IdpClientSecret, Encoding.UTF8.GetString(Convert.FromBase64String(exchange.Authorization!["Basic ".Length..])));
    }

    [Fact]
    public async Task IdpDiscoveredFromIdpUrl_MetadataWithoutTokenEndpoint_MalformedResponseNamingTheIdp()
    {
        _world.Handler.On(HttpMethod.Get, _world.Idp.MetadataUrl, _ => FakeResponses.Json($$"""{"issuer":"{{CrossAppFixture.IdpIssuer}}"}"""));
        using var provider = _world.CreateProvider(o => { o.IdpTokenEndpoint = null; o.IdpUrl = CrossAppFixture.IdpIssuer; });

        var ex = await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri)).Within();

        Assert.Equal(OAuthFailureReason.MalformedResponse, ex.Reason);
        Assert.Contains("The identity provider 'https://idp.example.com", ex.Message, StringComparison.Ordinal);
        Assert.Contains("publishes no token_endpoint in its metadata.", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_world.Idp.TokenRequestsReceived);
    }
}
