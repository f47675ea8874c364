namespace LockFree.Auth.Tests.Security;

/// <summary>
/// The providers end to end over real origins: registration, legacy discovery and the token endpoints of both
/// providers redirect to another origin; nothing secret reaches it and the caller gets
/// <see cref="OAuthFailureReason.RedirectRefused"/>.
/// </summary>
public sealed class ProviderRedirectTests
{
    private const string IdpClientSecret = "idp-cs-SECRET-idp-client-secret";

    [Theory]
    [MemberData(nameof(RedirectScenario.Core), MemberType = typeof(RedirectScenario))]
    public async Task ClientOAuth_RegistrationEndpointRedirects_NoInitialAccessTokenReachesOtherOrigin(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        MapResourceAndServer(s);
        s.A.MapRedirect("/register", s.B.Url("/register"), status);
        s.B.MapJson("/register", new { client_id = "from-b", client_secret = "b-secret", token_endpoint_auth_method = "client_secret_basic" }, 201);
        using var provider = new ClientOAuthProvider(s.A.Url("/mcp"), new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            DynamicClientRegistration = new DynamicClientRegistrationOptions { InitialAccessToken = RedirectScenario.InitialAccessToken },
        }, s.Http);

        var ex = await Record.ExceptionAsync(() => provider.GetTokensAsync().WaitAsync(TimeSpan.FromSeconds(10)));

        s.AssertRefused(ex, s.A.Url("/register"), ("initial access token", RedirectScenario.InitialAccessToken));
        Assert.Equal("Bearer " + RedirectScenario.InitialAccessToken, Assert.Single(s.A.RequestsTo("/register")).Authorization);
        Assert.Empty(s.A.RequestsTo("/token"));
    }

    [Theory]
    [MemberData(nameof(RedirectScenario.Core), MemberType = typeof(RedirectScenario))]
    public async Task ClientOAuth_TokenEndpointRedirects_NoClientSecretReachesOtherOrigin(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        MapResourceAndServer(s);
        s.A.MapRedirect("/token", s.B.Url("/token"), status);
        s.B.MapJson("/token", new { access_token = "at-from-b", token_type = "Bearer", expires_in = 3600 });
        using var provider = new ClientOAuthProvider(s.A.Url("/mcp"), new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = "client",
            ClientSecret = RedirectScenario.ClientSecret,
            TokenEndpointAuthMethod = "client_secret_basic",
        }, s.Http);

        var ex = await Record.ExceptionAsync(() => provider.GetTokensAsync().WaitAsync(TimeSpan.FromSeconds(10)));

        s.AssertRefused(ex, s.A.Url("/token"), ("client secret", RedirectScenario.ClientSecret));
        Assert.Single(s.A.RequestsTo("/token"));
    }

    [Theory]
    [MemberData(nameof(RedirectScenario.Core), MemberType = typeof(RedirectScenario))]
    public async Task ClientOAuth_LegacyMetadataRedirects_RedirectRefusedAndNoDefaultEndpointUsed(int status, bool autoRedirect)
    {
        // No protected resource metadata: the 2025-03-26 fallback reads the server origin's metadata, which redirects.
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        s.A.MapRedirect("/.well-known/oauth-authorization-server", s.B.Url("/metadata"), status);
        s.B.MapJson("/metadata", new { issuer = s.B.Origin, token_endpoint = s.B.Url("/token").AbsoluteUri });
        using var provider = new ClientOAuthProvider(s.A.Url("/mcp"), new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = "client",
            ClientSecret = RedirectScenario.ClientSecret,
        }, s.Http);

        var ex = await Record.ExceptionAsync(() => provider.GetTokensAsync().WaitAsync(TimeSpan.FromSeconds(10)));

        s.AssertRefused(ex, s.A.Url("/.well-known/oauth-authorization-server"), ("client secret", RedirectScenario.ClientSecret));
        Assert.Empty(s.A.RequestsTo("/token"));
    }

    [Theory]
    [MemberData(nameof(RedirectScenario.Core), MemberType = typeof(RedirectScenario))]
    public async Task CrossApp_IdpTokenEndpointRedirects_NoIdTokenOrIdpSecretReachesOtherOrigin(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        MapCrossAppServer(s);
        s.A.MapRedirect("/idp/token", s.B.Url("/token"), status);
        s.B.MapJson("/token", new { access_token = "jag-from-b", token_type = "N_A", issued_token_type = "urn:ietf:params:oauth:token-type:id-jag", expires_in = 300 });
        using var provider = new CrossApplicationAccessProvider(CrossAppOptions(s), s.Http);

        var ex = await Record.ExceptionAsync(() => provider.GetAccessTokenAsync(s.A.Url("/mcp"), s.A.Url("/as")).WaitAsync(TimeSpan.FromSeconds(10)));

        s.AssertRefused(ex, s.A.Url("/idp/token"), ("ID token", RedirectScenario.IdToken), ("IdP client secret", IdpClientSecret), ("client secret", RedirectScenario.ClientSecret));
        Assert.Contains(RedirectScenario.IdToken, Assert.Single(s.A.RequestsTo("/idp/token")).Searchable, StringComparison.Ordinal);
        Assert.Empty(s.A.RequestsTo("/as/token"));
    }

    [Theory]
    [MemberData(nameof(RedirectScenario.Core), MemberType = typeof(RedirectScenario))]
    public async Task CrossApp_AuthorizationServerTokenEndpointRedirects_NoIdJagOrSecretReachesOtherOrigin(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        MapCrossAppServer(s);
        s.A.MapJson("/idp/token", new { access_token = RedirectScenario.IdJag, token_type = "N_A", issued_token_type = "urn:ietf:params:oauth:token-type:id-jag", expires_in = 300 });
        s.A.MapRedirect("/as/token", s.B.Url("/token"), status);
        s.B.MapJson("/token", new { access_token = "at-from-b", token_type = "Bearer", expires_in = 3600 });
        using var provider = new CrossApplicationAccessProvider(CrossAppOptions(s), s.Http);

        var ex = await Record.ExceptionAsync(() => provider.GetAccessTokenAsync(s.A.Url("/mcp"), s.A.Url("/as")).WaitAsync(TimeSpan.FromSeconds(10)));

        s.AssertRefused(ex, s.A.Url("/as/token"), ("ID-JAG", RedirectScenario.IdJag), ("client secret", RedirectScenario.ClientSecret), ("ID token", RedirectScenario.IdToken));
        Assert.Contains(RedirectScenario.IdJag, Assert.Single(s.A.RequestsTo("/as/token")).Searchable, StringComparison.Ordinal);
    }

    /// <summary>A's protected resource metadata for <c>/mcp</c> and its authorization server metadata (issuer = A's origin).</summary>
    private static void MapResourceAndServer(RedirectScenario s)
    {
        s.A.MapJson("/.well-known/oauth-protected-resource/mcp", new { resource = s.A.Url("/mcp").AbsoluteUri, authorization_servers = new[] { s.A.Origin } });
        s.A.MapJson("/.well-known/oauth-authorization-server", new
        {
            issuer = s.A.Origin,
            token_endpoint = s.A.Url("/token").AbsoluteUri,
            registration_endpoint = s.A.Url("/register").AbsoluteUri,
            grant_types_supported = new[] { "client_credentials" },
            token_endpoint_auth_methods_supported = new[] { "client_secret_basic" },
        });
    }

    /// <summary>A's authorization server <c>/as</c> (client_secret_post only); the IdP's token endpoint is A's <c>/idp/token</c>.</summary>
    private static void MapCrossAppServer(RedirectScenario s) =>
        s.A.MapJson("/.well-known/oauth-authorization-server/as", new
        {
            issuer = s.A.Url("/as").AbsoluteUri,
            token_endpoint = s.A.Url("/as/token").AbsoluteUri,
            token_endpoint_auth_methods_supported = new[] { "client_secret_post" },
        });

    private static CrossApplicationAccessProviderOptions CrossAppOptions(RedirectScenario s) => new()
    {
        ClientId = "client",
        ClientSecret = RedirectScenario.ClientSecret,
        IdpClientId = "idp-client",
        IdpClientSecret = IdpClientSecret,
        IdpTokenEndpoint = s.A.Url("/idp/token").AbsoluteUri,
        IdTokenCallback = (_, _) => Task.FromResult(RedirectScenario.IdToken),
    };
}
