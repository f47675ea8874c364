namespace LockFree.Auth.Tests.CrossAppAccess;

public sealed class CrossApplicationAccessProviderOptionsTests
{
    private readonly CrossAppFixture _world = new();

    public static TheoryData<string, Action<CrossApplicationAccessProviderOptions>> InvalidOptions() => new()
    {
        { "ClientId", o => o.ClientId = "" },
        { "ClientId", o => o.ClientId = null! },
        { "IdpClientId", o => o.IdpClientId = " " },
        { "IdTokenCallback", o => o.IdTokenCallback = null! },
        { "IdpUrl", o => { o.IdpUrl = null; o.IdpTokenEndpoint = null; } },
        { "IdpUrl", o => o.IdpUrl = "not a url" },
        { "IdpTokenEndpoint", o => o.IdpTokenEndpoint = "/relative/token" },
        { "IdpTokenEndpoint", o => o.IdpTokenEndpoint = "ftp://idp.example.com/token" },
        { "TokenEndpointAuthMethod", o => o.TokenEndpointAuthMethod = "private_key_jwt" },
        { "ClientSecret", o => { o.TokenEndpointAuthMethod = "client_secret_basic"; o.ClientSecret = null; } },
        { "IdpTokenEndpointAuthMethod", o => o.IdpTokenEndpointAuthMethod = "tls_client_auth" },
        { "IdpClientSecret", o => { o.IdpTokenEndpointAuthMethod = "client_secret_post"; o.IdpClientSecret = ""; } },
        { "ClientSecret", o => o.TokenEndpointAuthMethod = "client_secret_jwt" }, // 23 bytes: too short for HS256
        { "IdpClientSecret", o => o.IdpTokenEndpointAuthMethod = "client_secret_jwt" },
        { "MaxResponseBytes", o => o.MaxResponseBytes = 0 },
        { "TokenCacheOptions", o => o.TokenCacheOptions = new AuthCoordinatorOptions { SkewMargin = TimeSpan.FromSeconds(-1) } },
        { "CacheCapacity", o => o.CacheCapacity = 0 },
        { "BackChannelTimeout", o => o.BackChannelTimeout = TimeSpan.Zero },
        { "TrustedAuthorizationServers", o => o.TrustedAuthorizationServers = [new Uri("/relative", UriKind.Relative)] },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Constructor_InvalidOption_ThrowsArgumentExceptionNamingIt(string option, Action<CrossApplicationAccessProviderOptions> corrupt)
    {
        var options = _world.Options(corrupt);

        var ex = Assert.ThrowsAny<ArgumentException>(() => new CrossApplicationAccessProvider(options, _world.Handler.CreateClient()));

        // One style for every option: the ParamName and the message name it as CrossApplicationAccessProviderOptions.X.
        Assert.Equal("CrossApplicationAccessProviderOptions." + option, ex.ParamName);
        Assert.Contains("CrossApplicationAccessProviderOptions." + option, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(CrossAppFixture.ClientSecret, ex.Message);
    }

    [Fact]
    public void Constructor_NullArguments_ThrowArgumentNull()
    {
        Assert.Throws<ArgumentNullException>(() => new CrossApplicationAccessProvider(null!, _world.Handler.CreateClient()));
        Assert.Throws<ArgumentNullException>(() => new CrossApplicationAccessProvider(_world.Options(), null!));
    }

    [Fact]
    public void Constructor_IdpUrlOnly_Accepted()
    {
        var options = _world.Options(o => { o.IdpTokenEndpoint = null; o.IdpUrl = CrossAppFixture.IdpIssuer; });

        using var provider = new CrossApplicationAccessProvider(options, _world.Handler.CreateClient());

        Assert.NotNull(provider);
    }

    [Fact]
    public async Task Constructor_OptionsChangedAfterwards_NoEffect()
    {
        var options = _world.Options();
        using var provider = new CrossApplicationAccessProvider(options, _world.Handler.CreateClient(), null, _world.Time);
        options.ClientId = "changed";
        options.IdpTokenEndpoint = "https://elsewhere.example.com/token";

        await provider.GetAccessTokenAsync(_world.ResourceUri, _world.AsUri).Within();

        Assert.Equal(1, _world.Idp.TokenRequests);
        Assert.Equal("mcp-client", Assert.Single(_world.As.TokenRequestsReceived).Authorization is { } auth
            ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(auth["Basic ".Length..])).Split(':')[0]
            : null);
    }

    [Fact]
    public void GetAccessTokenAsync_RelativeOrNullUrl_ThrowsArgumentException()
    {
        using var provider = _world.CreateProvider();

        Assert.Throws<ArgumentNullException>(() => { _ = provider.GetAccessTokenAsync(null!, _world.AsUri); });
        Assert.Throws<ArgumentNullException>(() => { _ = provider.GetAccessTokenAsync(_world.ResourceUri, null!); });
        Assert.Throws<ArgumentException>(() => { _ = provider.GetAccessTokenAsync(new Uri("/mcp", UriKind.Relative), _world.AsUri); });
        Assert.Throws<ArgumentException>(() => { _ = provider.GetAccessTokenAsync(_world.ResourceUri, new Uri("/as", UriKind.Relative)); });
    }
}
