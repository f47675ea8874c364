using System.Reflection;
using System.Text;
using LockFree.Auth.Testing;

namespace LockFree.Auth.Tests.CrossAppAccess;

/// <summary>
/// Tests for mutants of <c>CrossApplicationAccessProvider.cs</c> that survived the providers' Stryker run
/// (spec/mutation-testing.md, "Score: providers"): the invalidation events of the log catalogue, the argument errors
/// and their messages, and a disposed provider's failure delivered through the task; and the gaps that were still open
/// after the first round: the background-refresh failure event, the handler over a disposed provider, the bounded
/// issued-token index, T5's "no key" for an untrusted server, and a configured IdP method with a discovered IdP.
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

    [Fact]
    public async Task BackgroundRefreshFails_LoggedOnceWithTheExceptionTypeAndReason_CachedTokenStillServed()
    {
        using var provider = _world.CreateProvider();
        var first = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
        _world.As.TokenResponder = _ => FakeResponses.OAuthError("invalid_grant", "the assertion was refused");

        _world.Time.Advance(TimeSpan.FromSeconds(3600 - 100)); // inside the refresh-ahead window, before the skew margin
        var served = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.Same(first, served);
        await WaitUntilAsync(() => _world.Logs.Messages.Any(m => m.Contains("A background refresh for resource", StringComparison.Ordinal)));
        var line = Assert.Single(_world.Logs.Messages, m => m.Contains("A background refresh for resource", StringComparison.Ordinal));
        Assert.Contains(CrossAppFixture.Resource, line, StringComparison.Ordinal);
        Assert.Contains(nameof(CrossApplicationAccessException), line, StringComparison.Ordinal);
        Assert.Contains($"{OAuthFailureReason.ErrorResponse})", line, StringComparison.Ordinal); // the failure's own reason, not Unspecified
        Assert.Same(first, await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within());
    }

    [Fact]
    public async Task Handler_OverADisposedProvider_ObjectDisposedNamingTheProvider_NoDiscovery()
    {
        var provider = _world.CreateProvider();
        provider.Dispose();
        using var client = new HttpClient(new CrossApplicationAccessHandler(provider, _world.ResourceUri, _world.Handler.CreateClient(), _world.Handler));

        var ex = await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetAsync(CrossAppFixture.Resource)).Within();

        // The object the caller disposed is named (like GetAccessTokenAsync after Dispose), not an internal cache.
        Assert.Equal(nameof(CrossApplicationAccessProvider), ex.ObjectName);
        Assert.Equal(0, _world.Handler.TotalRequests);
    }

    [Fact]
    public async Task IssuedTokenIndex_StaysBoundedAcrossManyRetiredTokens_TheCurrentTokenStaysRetirable()
    {
        const int capacity = 2;
        using var provider = _world.CreateProvider(o => o.CacheCapacity = capacity);
        TokenContainer token = null!;
        for (var i = 0; i < 20 * capacity; i++)
        {
            token = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();
            Assert.True(provider.InvalidateCache(token.AccessToken), $"token {i} was cached, so it is retired");
        }

        token = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.Equal(20 * capacity + 1, _world.As.Issued);
        // Pruned at four times the capacity: the tokens retired long ago are dropped, the index does not grow with them.
        Assert.InRange(IssuedIndexCount(provider), 1, (4 * capacity) + 1);
        Assert.True(provider.InvalidateCache(token.AccessToken), "the token still cached must survive every prune");
    }

    [Fact]
    public async Task UntrustedAuthorizationServer_RefusedWithoutAKey_DoesNotEvictTheTrustedKeysToken()
    {
        using var provider = _world.CreateProvider(o => o.CacheCapacity = 1);
        var trusted = await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within(); // pins the server
        var untrusted = new Uri("https://evil.example.net");

        for (var i = 0; i < 3; i++)
        {
            var ex = await Assert.ThrowsAsync<CrossApplicationAccessException>(() => provider.GetAccessTokenAsync(_world.ResourceUri, untrusted)).Within();
            Assert.Equal(OAuthFailureReason.UntrustedAuthorizationServer, ex.Reason);
        }

        // T5: an untrusted server gets no key, so (with one slot) the trusted key's token stays cached: no second exchange.
        Assert.Same(trusted, await provider.GetAccessTokenAsync(new Uri(CrossAppFixture.Resource), new Uri(CrossAppFixture.AsIssuer)).Within());
        Assert.Equal(1, _world.As.TokenRequests);
        Assert.DoesNotContain(_world.Logs.Messages, m => m.Contains("evil.example.net", StringComparison.Ordinal));
    }

    [Fact]
    public async Task IdpDiscoveredFromIdpUrl_ConfiguredIdpMethodWinsOverNegotiation_ClientSecretPost()
    {
        using var provider = _world.CreateProvider(o => { o.IdpTokenEndpoint = null; o.IdpUrl = CrossAppFixture.IdpIssuer; o.IdpTokenEndpointAuthMethod = "client_secret_post"; });

        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        var exchange = Assert.Single(_world.Idp.TokenRequestsReceived);
        Assert.Null(exchange.Authorization); // the IdP metadata lists client_secret_basic first; the configured method is used anyway
        Assert.Equal("idp-client", exchange["client_id"]);
        Assert.Equal(CrossAppFixture.IdpClientSecret, exchange["client_secret"]);
    }

    /// <summary>The number of tokens in the provider's issued-token index (private state; no public view of it exists).</summary>
    private static int IssuedIndexCount(CrossApplicationAccessProvider provider)
    {
        var cell = typeof(CrossApplicationAccessProvider).GetField("_issued", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(provider);
        Assert.True(cell is not null, "CrossApplicationAccessProvider._issued not found (renamed? update this test)");
        var current = cell!.GetType().GetProperty("Current", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Instance)?.GetValue(cell);
        Assert.True(current is System.Collections.ICollection, "the index is no longer a collection (update this test)");
        return ((System.Collections.ICollection)current!).Count;
    }

    /// <summary>Waits (wall clock, at most 10 s) until <paramref name="condition"/> holds; fails with its text otherwise.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(condition))] string? what = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"'{what}' did not become true within 10 s.");
            await Task.Delay(5);
        }
    }
}
