namespace LockFree.Auth.Tests.Security;

/// <summary>
/// Metadata endpoints (RFC 8414 / OpenID discovery, RFC 9728) that redirect to another origin: the redirect is not
/// followed, the other origin's document is never used, and the caller gets <see cref="OAuthFailureReason.RedirectRefused"/>
/// unless another location of the same server has the metadata.
/// </summary>
public sealed class DiscoveryRedirectTests
{
    [Theory]
    [MemberData(nameof(RedirectScenario.Matrix), MemberType = typeof(RedirectScenario))]
    public async Task AuthorizationServerMetadata_EveryLocationRedirects_RedirectRefused(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        var issuer = s.A.Url("/tenant");
        foreach (var location in AuthorizationServerDiscovery.GetDiscoveryUris(issuer))
        {
            s.A.MapRedirect(location.AbsolutePath, s.B.Url("/metadata"), status);
        }

        // B serves metadata for A's issuer: had a followed redirect been used, discovery would have succeeded.
        s.B.MapJson("/metadata", new { issuer = issuer.AbsoluteUri, token_endpoint = s.B.Url("/token").AbsoluteUri });
        using var discovery = new AuthorizationServerDiscovery(s.BackChannel());

        var ex = await Record.ExceptionAsync(() => discovery.DiscoverAsync(issuer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        s.AssertRefused(ex, AuthorizationServerDiscovery.GetDiscoveryUris(issuer)[0]);
        Assert.Equal(3, s.A.Requests.Count);
        Assert.Equal(autoRedirect ? 3 : 0, s.B.RequestsTo("/metadata").Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AuthorizationServerMetadata_FirstLocationRedirectsNextHasIt_UsesTheIssuersOwnDocument(bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        var issuer = s.A.Url("/tenant");
        var locations = AuthorizationServerDiscovery.GetDiscoveryUris(issuer);
        s.A.MapRedirect(locations[0].AbsolutePath, s.B.Url("/metadata"), 302);
        s.A.MapJson(locations[1].AbsolutePath, new { issuer = issuer.AbsoluteUri, token_endpoint = s.A.Url("/tenant/token").AbsoluteUri });
        s.B.MapJson("/metadata", new { issuer = issuer.AbsoluteUri, token_endpoint = s.B.Url("/token").AbsoluteUri });
        using var discovery = new AuthorizationServerDiscovery(s.BackChannel());

        var metadata = await discovery.DiscoverAsync(issuer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(s.A.Url("/tenant/token"), metadata.TokenEndpoint);
    }

    [Theory]
    [MemberData(nameof(RedirectScenario.Matrix), MemberType = typeof(RedirectScenario))]
    public async Task ProtectedResourceMetadata_HintAndWellKnownRedirect_RedirectRefused(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        var server = s.A.Url("/mcp");
        var hint = s.A.Url("/prm-from-challenge");
        s.A.MapRedirect(hint.AbsolutePath, s.B.Url("/prm"), status);
        foreach (var location in ProtectedResourceMetadata.WellKnownLocations(server))
        {
            s.A.MapRedirect(location.AbsolutePath, s.B.Url("/prm"), status);
        }

        s.B.MapJson("/prm", new { resource = server.AbsoluteUri, authorization_servers = new[] { s.B.Origin } });
        var skipped = new List<Uri>();

        var ex = await Record.ExceptionAsync(() => ProtectedResourceDiscovery.DiscoverAsync(s.BackChannel(), server, hint, (location, _) => skipped.Add(location), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        s.AssertRefused(ex, hint);
        Assert.Equal(3, skipped.Count);
        Assert.Equal(autoRedirect ? 3 : 0, s.B.RequestsTo("/prm").Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ProtectedResourceMetadata_HintRedirectsWellKnownHasIt_UsesTheResourcesOwnDocument(bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        var server = s.A.Url("/mcp");
        var hint = s.A.Url("/prm-from-challenge");
        s.A.MapRedirect(hint.AbsolutePath, s.B.Url("/prm"), 307);
        s.A.MapJson("/.well-known/oauth-protected-resource/mcp", new { resource = server.AbsoluteUri, authorization_servers = new[] { s.A.Origin } });
        s.B.MapJson("/prm", new { resource = server.AbsoluteUri, authorization_servers = new[] { s.B.Origin } });

        var metadata = await ProtectedResourceDiscovery.DiscoverAsync(s.BackChannel(), server, hint, null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.NotNull(metadata);
        Assert.Equal(new Uri(s.A.Origin), Assert.Single(metadata.AuthorizationServers));
    }
}
