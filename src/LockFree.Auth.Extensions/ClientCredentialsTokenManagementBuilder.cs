using LockFree.Auth.ClientCredentials;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LockFree.Auth.Extensions;

/// <summary>
/// Registers the named clients of the <see cref="ClientCredentialsTokenManager"/>; returned by
/// <see cref="ClientCredentialsServiceCollectionExtensions.AddClientCredentialsTokenManagement"/>.
/// </summary>
/// <remarks>
/// <para>
/// Each client's <see cref="ClientCredentialsClientOptions"/> are named options (the client's name), validated when the
/// host starts: a missing or wrong setting fails <c>IHost.StartAsync</c> with an <c>OptionsValidationException</c>
/// whose message names the configuration key.
/// </para>
/// <para>
/// Concurrency: use it while building the service collection (one thread); the manager it registers is a thread-safe
/// singleton.
/// </para>
/// </remarks>
public sealed class ClientCredentialsTokenManagementBuilder
{
    /// <summary>
    /// The name of the <c>IHttpClientFactory</c> client that carries every metadata and token request (its primary
    /// handler does not follow redirects). Add resilience or proxy settings with
    /// <c>services.AddHttpClient(ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName)</c>.
    /// </summary>
    public const string BackChannelHttpClientName = "LockFree.Auth.BackChannel";

    internal ClientCredentialsTokenManagementBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection the clients are registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Registers the client <paramref name="name"/>, configured in code.</summary>
    /// <param name="name">The client's name, as passed to <see cref="ClientCredentialsTokenManager.GetAccessTokenAsync"/> and the token handler.</param>
    /// <param name="configure">Sets the client's options.</param>
    /// <returns>This builder.</returns>
    public ClientCredentialsTokenManagementBuilder AddClient(string name, Action<ClientCredentialsClientOptions> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        Register(name, keyPrefix: null).Configure(configure);
        return this;
    }

    /// <summary>Registers the client <paramref name="name"/>, bound from <paramref name="configuration"/> (for example <c>configuration.GetSection("LockFree:Clients:billing")</c>).</summary>
    /// <param name="name">The client's name, as passed to <see cref="ClientCredentialsTokenManager.GetAccessTokenAsync"/> and the token handler.</param>
    /// <param name="configuration">
    /// The section whose keys are the option names (<c>TokenEndpoint</c>, <c>ClientId</c>, <c>ClientSecret</c>, …, and
    /// <c>TokenExpiry:SkewMargin</c> and the other expiry rules); validation messages name its path. Everything but
    /// <see cref="ClientCredentialsClientOptions.ClientAssertionSigningCredentials"/> (a key, set in code) can be bound.
    /// </param>
    /// <returns>This builder.</returns>
    public ClientCredentialsTokenManagementBuilder AddClient(string name, IConfiguration configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configuration);
        var prefix = configuration is IConfigurationSection section ? section.Path + ConfigurationPath.KeyDelimiter : null;
        Register(name, prefix).Configure(options =>
        {
            // Bound by the source generator (EnableConfigurationBindingGenerator): no reflection, trimming-safe.
            var bound = new BindableClientOptions();
            configuration.Bind(bound);
            bound.ApplyTo(options);
        });
        return this;
    }

    private OptionsBuilder<ClientCredentialsClientOptions> Register(string name, string? keyPrefix)
    {
        Services.Configure<ClientRegistry>(registry => registry.KeyPrefixes[name] = keyPrefix);
        return Services.AddOptions<ClientCredentialsClientOptions>(name).ValidateOnStart();
    }
}
