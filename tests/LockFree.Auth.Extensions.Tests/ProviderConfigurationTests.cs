using System.Net;
using LockFree.Auth.CrossAppAccess;
using LockFree.Auth.OAuth;
using LockFree.Auth.Testing;
using LockFree.Auth.Testing.OAuth;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Extensions.Tests;

/// <summary>
/// The two providers' options bound from (appsettings-like, in-memory) configuration: the bound provider works against
/// the fakes, the code action sets what text cannot carry and runs after the binding, and a bad value fails the host's
/// start with a message naming the configuration key (an option set in code keeps its <c>Type.Property</c> name).
/// </summary>
public sealed class ProviderConfigurationTests
{
    private const string McpSection = "LockFree:Providers:mcp";
    private const string XaaSection = "LockFree:Providers:xaa";
    private const string Secret = "pw-SECRET";

    [Fact]
    public async Task ClientOAuthProvider_FromConfiguration_ObtainsTokensAndBindsEveryTextOption()
    {
        var server = new FakeMcpAuthServer(new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture)));
        server.Clients["m2m"] = Secret;
        Func<IReadOnlyList<Uri>, Uri?> selector = servers => servers[0];
        using var host = McpHost(server, McpSettings(), o => { o.AuthServerSelector = selector; o.MaxStepUpAttempts = 1; });
        await host.StartAsync().Within();

        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("mcp").GetAsync(FakeMcpAuthServer.ResourceUrl))).Within();

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, server.ClientCredentialsGrants);
        var options = host.Services.GetRequiredService<IOptionsMonitor<ClientOAuthOptions>>().Get("mcp");
        Assert.Equal(OAuthGrantType.ClientCredentials, options.GrantType);
        Assert.Equal("m2m", options.ClientId);
        Assert.Equal("client_secret_post", options.TokenEndpointAuthMethod);
        Assert.Equal(["read", "write"], options.Scopes!);
        Assert.Equal([new Uri("https://auth.example.com")], options.TrustedAuthorizationServers);
        Assert.Equal(TimeSpan.FromSeconds(45), options.TokenExpiry!.SkewMargin);
        Assert.Equal(TimeSpan.FromSeconds(20), options.BackChannelTimeout);
        Assert.Equal(16, options.CacheCapacity);
        Assert.Equal("LockFree test", options.DynamicClientRegistration!.ClientName);
        Assert.Equal("consent", options.AdditionalAuthorizationParameters["prompt"]);
        Assert.Same(selector, options.AuthServerSelector); // the code action, for what text cannot carry
        Assert.Equal(1, options.MaxStepUpAttempts); // the code action runs after the binding (configuration says 3)
        await host.StopAsync().Within();
    }

    [Theory]
    [InlineData("RedirectUri", "callback", "The authorization code grant needs an absolute LockFree:Providers:mcp:RedirectUri.")]
    [InlineData("CacheCapacity", "0", "LockFree:Providers:mcp:CacheCapacity")]
    [InlineData("TokenEndpointAuthMethod", "tls_client_auth", "LockFree:Providers:mcp:TokenEndpointAuthMethod must be client_secret_basic, client_secret_post, client_secret_jwt, none or private_key_jwt.")]
    [InlineData("TokenExpiry:SkewMargin", "-00:00:01", "LockFree:Providers:mcp:TokenExpiry")]
    public async Task ClientOAuthProvider_BadValue_StartFailsNamingTheConfigurationKey(string key, string value, string expected)
    {
        var settings = McpSettings();
        settings[$"{McpSection}:GrantType"] = key == "RedirectUri" ? "AuthorizationCode" : "ClientCredentials";
        settings[$"{McpSection}:{key}"] = value;
        using var host = McpHost(new FakeMcpAuthServer(TimeProvider.System), settings, o => o.AuthorizationCallbackHandler = (_, _) => Task.FromResult<AuthorizationResult?>(null));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Equal("mcp", error.OptionsName);
        Assert.StartsWith("LockFree.Auth provider 'mcp': ", Assert.Single(error.Failures), StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ClientOAuthOptions.", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientOAuthProvider_MissingCodeOnlyOption_StartFailsNamingTheOptionNotAKey()
    {
        var settings = McpSettings();
        settings[$"{McpSection}:GrantType"] = "AuthorizationCode";
        settings[$"{McpSection}:RedirectUri"] = "http://127.0.0.1/callback";
        using var host = McpHost(new FakeMcpAuthServer(TimeProvider.System), settings, configure: null);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Contains("needs an ClientOAuthOptions.AuthorizationCallbackHandler", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LockFree:Providers:mcp:AuthorizationCallbackHandler", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientOAuthProvider_UnconvertibleValue_StartFailsNamingTheConfigurationKey()
    {
        var settings = McpSettings();
        settings[$"{McpSection}:GrantType"] = "Implicit";
        using var host = McpHost(new FakeMcpAuthServer(TimeProvider.System), settings, configure: null);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync().Within());

        Assert.Contains($"{McpSection}:GrantType", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CrossApplicationAccessProvider_FromConfiguration_ExchangesWithTheBoundClients()
    {
        var handler = new FakeHttpHandler();
        var authorizationServer = new FakeOAuthServer(handler, "https://as.example.com", "as");
        _ = new FakeOAuthServer(handler, "https://idp.example.com", "idp");
        var idTokens = 0;
        using var host = CrossAppHost(handler, XaaSettings(), o => o.IdTokenCallback = (_, _) => { Interlocked.Increment(ref idTokens); return Task.FromResult("id-token"); });
        await host.StartAsync().Within();
        var provider = host.Services.GetRequiredKeyedService<CrossApplicationAccessProvider>("xaa");

        var token = await provider.GetAccessTokenAsync(new Uri("https://mcp.example.com/mcp"), new Uri("https://as.example.com")).Within();

        Assert.Equal("as-access-1", token.AccessToken);
        Assert.Equal(1, idTokens);
        var grant = Assert.Single(authorizationServer.TokenRequestsReceived);
        Assert.Equal("app", grant["client_id"]);
        Assert.Equal(Secret, grant["client_secret"]); // TokenEndpointAuthMethod = client_secret_post, from configuration
        Assert.Equal("mcp:read", grant["scope"]);
        var untrusted = await Assert.ThrowsAnyAsync<OAuthException>(() => provider.GetAccessTokenAsync(new Uri("https://mcp.example.com/mcp"), new Uri("https://elsewhere.example.com")).Within());
        Assert.Equal(OAuthFailureReason.UntrustedAuthorizationServer, untrusted.Reason); // TrustedAuthorizationServers, from configuration
        await host.StopAsync().Within();
    }

    [Theory]
    [InlineData("IdpTokenEndpoint", "not-a-url", "LockFree:Providers:xaa:IdpTokenEndpoint")]
    [InlineData("ClientId", "", "LockFree:Providers:xaa:ClientId")]
    [InlineData("IdpTokenEndpointAuthMethod", "private_key_jwt", "LockFree:Providers:xaa:IdpTokenEndpointAuthMethod")]
    [InlineData("BackChannelTimeout", "00:00:00", "LockFree:Providers:xaa:BackChannelTimeout")]
    public async Task CrossApplicationAccessProvider_BadValue_StartFailsNamingTheConfigurationKey(string key, string? value, string expected)
    {
        var settings = XaaSettings();
        settings[$"{XaaSection}:{key}"] = value;
        using var host = CrossAppHost(new FakeHttpHandler(), settings, o => o.IdTokenCallback = (_, _) => Task.FromResult("id-token"));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Equal("xaa", error.OptionsName);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CrossApplicationAccessProvider_WithoutTheCodeOnlyCallback_StartFailsNamingTheOption()
    {
        using var host = CrossAppHost(new FakeHttpHandler(), XaaSettings(), configure: null);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Contains("CrossApplicationAccessProviderOptions.IdTokenCallback is required.", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("X.IdpTokenEndpoint and X.IdpTokenEndpointAuthMethod", "k:IdpTokenEndpoint and X.IdpTokenEndpointAuthMethod")]
    [InlineData("needs X.ClientSecret (Parameter 'X.ClientSecret')", "needs k:ClientSecret (Parameter 'k:ClientSecret')")]
    [InlineData("YX.IdpTokenEndpoint X.", "YX.IdpTokenEndpoint X.")]
    public void ConfigurationKeys_RewritesOnlyBindableOptionsOfTheType(string message, string expected)
    {
        var keys = new ConfigurationKeys("X", "k:", new HashSet<string>(StringComparer.Ordinal) { "IdpTokenEndpoint", "ClientSecret" });

        Assert.Equal(expected, keys.Rewrite(message));
    }

    private static Dictionary<string, string?> McpSettings() => new(StringComparer.Ordinal)
    {
        [$"{McpSection}:GrantType"] = "ClientCredentials",
        [$"{McpSection}:ClientId"] = "m2m",
        [$"{McpSection}:ClientSecret"] = Secret,
        [$"{McpSection}:TokenEndpointAuthMethod"] = "client_secret_post",
        [$"{McpSection}:Scopes:0"] = "read",
        [$"{McpSection}:Scopes:1"] = "write",
        [$"{McpSection}:TrustedAuthorizationServers:0"] = "https://auth.example.com",
        [$"{McpSection}:TokenExpiry:SkewMargin"] = "00:00:45",
        [$"{McpSection}:BackChannelTimeout"] = "00:00:20",
        [$"{McpSection}:CacheCapacity"] = "16",
        [$"{McpSection}:MaxStepUpAttempts"] = "3",
        [$"{McpSection}:DynamicClientRegistration:ClientName"] = "LockFree test",
        [$"{McpSection}:AdditionalAuthorizationParameters:prompt"] = "consent",
    };

    private static Dictionary<string, string?> XaaSettings() => new(StringComparer.Ordinal)
    {
        [$"{XaaSection}:ClientId"] = "app",
        [$"{XaaSection}:ClientSecret"] = Secret,
        [$"{XaaSection}:TokenEndpointAuthMethod"] = "client_secret_post",
        [$"{XaaSection}:Scope"] = "mcp:read",
        [$"{XaaSection}:IdpUrl"] = "https://idp.example.com",
        [$"{XaaSection}:IdpTokenEndpoint"] = "https://idp.example.com/token",
        [$"{XaaSection}:IdpClientId"] = "idp-client",
        [$"{XaaSection}:IdpClientSecret"] = "idp-" + Secret,
        [$"{XaaSection}:TrustedAuthorizationServers:0"] = "https://as.example.com",
        [$"{XaaSection}:TokenCacheOptions:SkewMargin"] = "00:00:30",
    };

    private static IHost McpHost(FakeMcpAuthServer server, Dictionary<string, string?> settings, Action<ClientOAuthOptions>? configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSingleton(server.Time);
        builder.Services.AddClientOAuthProvider("mcp", new Uri(FakeMcpAuthServer.ResourceUrl), builder.Configuration.GetSection(McpSection), configure);
        builder.Services.AddHttpClient(AuthProviderServiceCollectionExtensions.BackChannelHttpClientName).ConfigurePrimaryHttpMessageHandler(() => new Forward(server));
        builder.Services.AddHttpClient("mcp").ConfigurePrimaryHttpMessageHandler(() => new Forward(server)).AddClientOAuthHandler("mcp");
        return builder.Build();
    }

    private static IHost CrossAppHost(FakeHttpHandler handler, Dictionary<string, string?> settings, Action<CrossApplicationAccessProviderOptions>? configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddCrossApplicationAccessProvider("xaa", builder.Configuration.GetSection(XaaSection), configure);
        builder.Services.AddHttpClient(AuthProviderServiceCollectionExtensions.BackChannelHttpClientName).ConfigurePrimaryHttpMessageHandler(() => new Forward(handler));
        return builder.Build();
    }

    /// <summary>A primary handler that forwards to the shared fake without owning it.</summary>
    private sealed class Forward(HttpMessageHandler target) : HttpMessageHandler
    {
        private readonly HttpMessageInvoker _invoker = new(target, disposeHandler: false);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _invoker.SendAsync(request, cancellationToken);
    }
}
