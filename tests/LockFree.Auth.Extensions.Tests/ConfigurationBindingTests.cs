using LockFree.Auth.ClientCredentials;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LockFree.Auth.Extensions.Tests;

/// <summary>
/// Binding a client from configuration (by the configuration-binding source generator, into the bindable subset of the
/// options): every text-valued option and the expiry rules bind; code configuration composes with it; a bad nested
/// value is reported under its key.
/// </summary>
public sealed class ConfigurationBindingTests
{
    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Fact]
    public void AddClient_FromConfiguration_BindsEveryTextValuedOption()
    {
        var configuration = Configuration(new()
        {
            ["Clients:billing:Authority"] = "https://login.example.com/tenant",
            ["Clients:billing:ClientId"] = "billing-client",
            ["Clients:billing:ClientSecret"] = "s3cret",
            ["Clients:billing:ClientAuthenticationMethod"] = "client_secret_post",
            ["Clients:billing:Scope"] = "a b",
            ["Clients:billing:Resource"] = "https://api.example.com/",
            ["Clients:billing:BackChannelTimeout"] = "00:00:05",
            ["Clients:billing:MaxResponseBytes"] = "4096",
            ["Clients:billing:ClientAssertionLifetime"] = "00:01:00",
            ["Clients:billing:TokenExpiry:SkewMargin"] = "00:00:10",
            ["Clients:billing:TokenExpiry:RefreshAheadWindow"] = "00:00:20",
            ["Clients:billing:TokenExpiry:MaxRefreshAheadFraction"] = "0.5",
        });
        var services = new ServiceCollection();
        services.AddClientCredentialsTokenManagement().AddClient("billing", configuration.GetSection("Clients:billing"));
        services.Configure<ClientCredentialsClientOptions>("billing", o => o.Scope += " c"); // code after configuration
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptionsMonitor<ClientCredentialsClientOptions>>().Get("billing");

        Assert.Equal(new Uri("https://login.example.com/tenant"), options.Authority);
        Assert.Null(options.TokenEndpoint);
        Assert.Equal(("billing-client", "s3cret", "client_secret_post"), (options.ClientId, options.ClientSecret, options.ClientAuthenticationMethod));
        Assert.Equal("a b c", options.Scope);
        Assert.Equal(new Uri("https://api.example.com/"), options.Resource);
        Assert.Equal(TimeSpan.FromSeconds(5), options.BackChannelTimeout);
        Assert.Equal(4096, options.MaxResponseBytes);
        Assert.Equal(TimeSpan.FromMinutes(1), options.ClientAssertionLifetime);
        Assert.NotNull(options.TokenExpiry);
        Assert.Equal(TimeSpan.FromSeconds(10), options.TokenExpiry.SkewMargin);
        Assert.Equal(TimeSpan.FromSeconds(20), options.TokenExpiry.RefreshAheadWindow);
        Assert.Equal(0.5, options.TokenExpiry.MaxRefreshAheadFraction);
        Assert.Equal(new AuthCoordinatorOptions().RefreshRetryDelay, options.TokenExpiry.RefreshRetryDelay);
        Assert.Null(options.ClientAssertionSigningCredentials);
    }

    [Fact]
    public void AddClient_BadNestedValue_FailureNamesTheKey()
    {
        var configuration = Configuration(new()
        {
            ["Clients:billing:TokenEndpoint"] = "https://login.example.com/token",
            ["Clients:billing:ClientId"] = "billing-client",
            ["Clients:billing:ClientSecret"] = "s3cret",
            ["Clients:billing:TokenExpiry:MaxSkewFraction"] = "2",
            ["Clients:billing:BackChannelTimeout"] = "01:00:00",
        });
        var services = new ServiceCollection();
        services.AddClientCredentialsTokenManagement().AddClient("billing", configuration.GetSection("Clients:billing"));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptionsMonitor<ClientCredentialsClientOptions>>().Get("billing"));

        Assert.Contains(error.Failures, f => f.StartsWith("Clients:billing:TokenExpiry: MaxSkewFraction must be in [0, 1].", StringComparison.Ordinal));
        Assert.Contains("Clients:billing:BackChannelTimeout must be greater than zero and at most 10 minutes.", error.Failures);
        Assert.DoesNotContain(error.Failures, f => f.Contains("s3cret", StringComparison.Ordinal));
    }

    [Fact]
    public void Manager_ServesOnlyTheRegisteredClients()
    {
        var services = new ServiceCollection();
        services.AddClientCredentialsTokenManagement()
            .AddClient("a", o => { o.TokenEndpoint = new Uri("https://as.example.com/token"); o.ClientId = "a"; o.ClientSecret = "s"; })
            .AddClient("b", o => { o.TokenEndpoint = new Uri("https://as.example.com/token"); o.ClientId = "b"; o.ClientSecret = "s"; });
        services.AddClientCredentialsTokenManagement(); // again: harmless
        using var provider = services.BuildServiceProvider();

        var manager = provider.GetRequiredService<ClientCredentialsTokenManager>();

        Assert.Equal(["a", "b"], manager.ClientNames.Order(StringComparer.Ordinal));
    }
}
