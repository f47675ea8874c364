namespace LockFree.Auth.Tests.OAuth;

public sealed class ClientOAuthOptionsTests
{
    private const string Secret = "options-test-secret";

    public static TheoryData<string, Action<ClientOAuthOptions>> InvalidOptions() => new()
    {
        { "RedirectUri", o => { o.GrantType = OAuthGrantType.AuthorizationCode; o.RedirectUri = null; } },
        { "RedirectUri", o => { o.GrantType = OAuthGrantType.AuthorizationCode; o.RedirectUri = new Uri("/callback", UriKind.Relative); } },
        { "AuthorizationCallbackHandler", o => { o.GrantType = OAuthGrantType.AuthorizationCode; o.RedirectUri = new Uri("http://127.0.0.1/callback"); } },
        { "ClientId", o => o.ClientId = null },
        { "ClientSecret", o => o.ClientSecret = null },
        { "GrantType", o => o.GrantType = (OAuthGrantType)7 },
        { "TokenEndpointAuthMethod", o => o.TokenEndpointAuthMethod = "tls_client_auth" },
        { "ClientAssertionSigningCredentials", o => o.TokenEndpointAuthMethod = "private_key_jwt" },
        { "ClientSecret", o => o.TokenEndpointAuthMethod = "client_secret_jwt" }, // 19 bytes: too short for HS256
        { "ClientSecret", o => { o.TokenEndpointAuthMethod = "client_secret_jwt"; o.ClientSecret = ""; } },
        { "ClientMetadataDocumentUri", o => o.ClientMetadataDocumentUri = new Uri("http://client.example.com/metadata") },
        { "ClientAssertionLifetime", o => o.ClientAssertionLifetime = TimeSpan.Zero },
        { "ClientAssertionJwtType", o => o.ClientAssertionJwtType = "" },
        { "MaxStepUpAttempts", o => o.MaxStepUpAttempts = -1 },
        { "MaxResponseBytes", o => o.MaxResponseBytes = 0 },
        { "BackChannelTimeout", o => o.BackChannelTimeout = TimeSpan.Zero },
        { "CacheCapacity", o => o.CacheCapacity = 0 },
        { "TokenExpiry", o => o.TokenExpiry = new AuthCoordinatorOptions { SkewMargin = TimeSpan.FromSeconds(-1) } },
        { "TrustedAuthorizationServers", o => o.TrustedAuthorizationServers = [new Uri("/relative", UriKind.Relative)] },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Constructor_InvalidOption_ArgumentExceptionNamingTypeAndProperty(string property, Action<ClientOAuthOptions> corrupt)
    {
        var options = new ClientOAuthOptions { GrantType = OAuthGrantType.ClientCredentials, ClientId = "c", ClientSecret = Secret };
        corrupt(options);
        using var http = new HttpClient();

        var ex = Assert.ThrowsAny<ArgumentException>(() => new ClientOAuthProvider(new Uri("https://mcp.example.com/mcp"), options, http));

        Assert.Equal("ClientOAuthOptions." + property, ex.ParamName);
        Assert.Contains("ClientOAuthOptions." + property, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, ex.Message, StringComparison.Ordinal);
    }
}
