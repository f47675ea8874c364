using System.Diagnostics.Metrics;
using System.Net;
using LockFree.Auth.CrossAppAccess;
using LockFree.Auth.Extensions;
using LockFree.Auth.OAuth;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the two providers — <see cref="ClientOAuthProvider"/> (MCP OAuth client) and
/// <see cref="CrossApplicationAccessProvider"/> (cross-app access) — as named (keyed) singletons, and puts their
/// handlers on <c>IHttpClientFactory</c> clients.
/// </summary>
/// <remarks>
/// <para>
/// Each provider is a keyed singleton (<c>GetRequiredKeyedService&lt;ClientOAuthProvider&gt;(name)</c>): its tokens,
/// metadata and registrations live as long as the container, so the factory's handler rotation (every 2 minutes by
/// default) costs no exchange. Its back channel (metadata, registration, token requests) is the named client
/// <see cref="BackChannelHttpClientName"/>, whose primary handler follows no redirects; add resilience handlers to it with
/// <c>services.AddHttpClient(BackChannelHttpClientName)</c>. <see cref="TimeProvider"/> and <see cref="ILoggerFactory"/>
/// come from the container, and so does the meter when the container has an <see cref="IMeterFactory"/> (the generic
/// host's, or <c>AddMetrics()</c>) and the options name none: the provider's measurements are then scoped to the
/// container and its meter is disposed with it. The options are set in code, or bound from a configuration section (only
/// the options text can carry; callbacks, caches, keys and token sharing in an optional action that runs after the
/// binding). They are validated when the host starts (<c>ValidateOnStart</c>): the provider's own checks run, and a
/// failure names the provider and the option — its configuration key (for example <c>LockFree:Providers:mcp:RedirectUri</c>)
/// when it was bound from configuration.
/// </para>
/// <para>Concurrency: call while building the service collection; what it registers is thread-safe.</para>
/// </remarks>
public static class AuthProviderServiceCollectionExtensions
{
    /// <summary>The named <see cref="HttpClient"/> the providers use as their back channel.</summary>
    public const string BackChannelHttpClientName = "LockFree.Auth.ProviderBackChannel";

    /// <summary>Registers a <see cref="ClientOAuthProvider"/> for the MCP server <paramref name="serverUrl"/> under the key <paramref name="name"/>.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The provider's name: the service key, and the name of its options.</param>
    /// <param name="serverUrl">The MCP server (protected resource) URL.</param>
    /// <param name="configure">Sets the options (redirect URI, client identity, grant, scopes, caches).</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddClientOAuthProvider(this IServiceCollection services, string name, Uri serverUrl, Action<ClientOAuthOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(serverUrl);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ClientOAuthOptions>(name).Configure(configure);
        return RegisterClientOAuthProvider(services, name, serverUrl, keys: null);
    }

    /// <summary>
    /// Registers a <see cref="ClientOAuthProvider"/> for the MCP server <paramref name="serverUrl"/> under the key
    /// <paramref name="name"/>, its options bound from <paramref name="configuration"/> (for example
    /// <c>configuration.GetSection("LockFree:Providers:mcp")</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The provider's name: the service key, and the name of its options.</param>
    /// <param name="serverUrl">The MCP server (protected resource) URL.</param>
    /// <param name="configuration">
    /// The section whose keys are the option names: <c>GrantType</c>, <c>RedirectUri</c>, <c>ClientId</c>,
    /// <c>ClientSecret</c>, <c>TokenEndpointAuthMethod</c>, <c>ClientMetadataDocumentUri</c>, <c>Scopes</c> (a list),
    /// <c>DynamicClientRegistration:ClientName</c> / <c>:ClientUri</c> / <c>:InitialAccessToken</c>,
    /// <c>AdditionalAuthorizationParameters:name</c>, <c>ClientAssertionLifetime</c>, <c>ClientAssertionJwtType</c>,
    /// <c>MaxStepUpAttempts</c>, <c>TokenExpiry:SkewMargin</c> and the other expiry rules, <c>MaxResponseBytes</c>,
    /// <c>TrustedAuthorizationServers</c> (a list), <c>BackChannelTimeout</c>, <c>CacheCapacity</c>. Validation messages
    /// name its path.
    /// </param>
    /// <param name="configure">
    /// Sets what configuration cannot carry (the authorization callback, the authorization-server selector, the token
    /// cache, the assertion signing key, the DPoP key store, token sharing); it runs after the binding, so it may also
    /// override a bound value.
    /// </param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddClientOAuthProvider(this IServiceCollection services, string name, Uri serverUrl, IConfiguration configuration, Action<ClientOAuthOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(serverUrl);
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = services.AddOptions<ClientOAuthOptions>(name).Configure(options =>
        {
            // Bound by the source generator (EnableConfigurationBindingGenerator): no reflection, trimming-safe.
            var bound = new BindableClientOAuthOptions();
            configuration.Bind(bound);
            bound.ApplyTo(options);
        });
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        return RegisterClientOAuthProvider(services, name, serverUrl, KeysOf(configuration, nameof(ClientOAuthOptions), BindableClientOAuthOptions.Names));
    }

    private static IServiceCollection RegisterClientOAuthProvider(IServiceCollection services, string name, Uri serverUrl, ConfigurationKeys? keys)
    {
        AddBackChannel(services);
        services.AddOptions<ClientOAuthOptions>(name)
            .PostConfigure<IServiceProvider>(static (options, provider) => options.MeterFactory ??= provider.GetService<IMeterFactory>())
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ClientOAuthOptions>>(new ProviderOptionsValidator<ClientOAuthOptions>(
            name, options => new ClientOAuthProvider(serverUrl, options, ValidationOnly.Client), keys));
        services.AddKeyedSingleton(name, (provider, _) => new ClientOAuthProvider(
            serverUrl,
            provider.GetRequiredService<IOptionsMonitor<ClientOAuthOptions>>().Get(name),
            provider.GetRequiredService<IHttpClientFactory>().CreateClient(BackChannelHttpClientName),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<TimeProvider>()));
        return services;
    }

    /// <summary>Registers a <see cref="CrossApplicationAccessProvider"/> under the key <paramref name="name"/>.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The provider's name: the service key, and the name of its options.</param>
    /// <param name="configure">Sets the options (client, identity provider, ID token callback, caches).</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddCrossApplicationAccessProvider(this IServiceCollection services, string name, Action<CrossApplicationAccessProviderOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<CrossApplicationAccessProviderOptions>(name).Configure(configure);
        return RegisterCrossApplicationAccessProvider(services, name, keys: null);
    }

    /// <summary>
    /// Registers a <see cref="CrossApplicationAccessProvider"/> under the key <paramref name="name"/>, its options bound
    /// from <paramref name="configuration"/> (for example <c>configuration.GetSection("LockFree:Providers:xaa")</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The provider's name: the service key, and the name of its options.</param>
    /// <param name="configuration">
    /// The section whose keys are the option names: <c>ClientId</c>, <c>ClientSecret</c>, <c>TokenEndpointAuthMethod</c>,
    /// <c>Scope</c>, <c>IdpUrl</c>, <c>IdpTokenEndpoint</c>, <c>IdpClientId</c>, <c>IdpClientSecret</c>,
    /// <c>IdpTokenEndpointAuthMethod</c>, <c>IdpScope</c>, <c>MaxResponseBytes</c>, <c>TokenCacheOptions:SkewMargin</c> and
    /// the other expiry rules, <c>TrustedAuthorizationServers</c> (a list), <c>BackChannelTimeout</c>,
    /// <c>CacheCapacity</c>. Validation messages name its path.
    /// </param>
    /// <param name="configure">
    /// Sets what configuration cannot carry (<see cref="CrossApplicationAccessProviderOptions.IdTokenCallback"/>, which is
    /// required, and token sharing); it runs after the binding, so it may also override a bound value.
    /// </param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddCrossApplicationAccessProvider(this IServiceCollection services, string name, IConfiguration configuration, Action<CrossApplicationAccessProviderOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = services.AddOptions<CrossApplicationAccessProviderOptions>(name).Configure(options =>
        {
            var bound = new BindableCrossAppOptions();
            configuration.Bind(bound);
            bound.ApplyTo(options);
        });
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        return RegisterCrossApplicationAccessProvider(services, name, KeysOf(configuration, nameof(CrossApplicationAccessProviderOptions), BindableCrossAppOptions.Names));
    }

    private static IServiceCollection RegisterCrossApplicationAccessProvider(IServiceCollection services, string name, ConfigurationKeys? keys)
    {
        AddBackChannel(services);
        services.AddOptions<CrossApplicationAccessProviderOptions>(name)
            .PostConfigure<IServiceProvider>(static (options, provider) => options.MeterFactory ??= provider.GetService<IMeterFactory>())
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<CrossApplicationAccessProviderOptions>>(new ProviderOptionsValidator<CrossApplicationAccessProviderOptions>(
            name, options => new CrossApplicationAccessProvider(options, ValidationOnly.Client), keys));
        services.AddKeyedSingleton(name, (provider, _) => new CrossApplicationAccessProvider(
            provider.GetRequiredService<IOptionsMonitor<CrossApplicationAccessProviderOptions>>().Get(name),
            provider.GetRequiredService<IHttpClientFactory>().CreateClient(BackChannelHttpClientName),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<TimeProvider>()));
        return services;
    }

    /// <summary>Adds the <see cref="ClientOAuthHandler"/> of the provider <paramref name="providerName"/> to this client: its requests carry the provider's tokens (to the MCP server's origin only) and a <c>401</c>/<c>403</c> runs the provider's challenge policy.</summary>
    /// <param name="builder">The <see cref="HttpClient"/>'s builder (for example the MCP transport's client).</param>
    /// <param name="providerName">The name given to <c>AddClientOAuthProvider</c>.</param>
    /// <returns>The same builder.</returns>
    public static IHttpClientBuilder AddClientOAuthHandler(this IHttpClientBuilder builder, string providerName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(providerName);
        ClientCredentialsServiceCollectionExtensions.RedactAuthorization(builder.Services, builder.Name);
        return builder.AddHttpMessageHandler(services => new ClientOAuthHandler(services.GetRequiredKeyedService<ClientOAuthProvider>(providerName)));
    }

    /// <summary>Adds the <see cref="CrossApplicationAccessHandler"/> of the provider <paramref name="providerName"/> for the resource <paramref name="serverUrl"/> to this client.</summary>
    /// <param name="builder">The <see cref="HttpClient"/>'s builder.</param>
    /// <param name="providerName">The name given to <c>AddCrossApplicationAccessProvider</c>.</param>
    /// <param name="serverUrl">The protected resource whose origin gets the tokens.</param>
    /// <returns>The same builder.</returns>
    public static IHttpClientBuilder AddCrossApplicationAccessHandler(this IHttpClientBuilder builder, string providerName, Uri serverUrl)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(providerName);
        ArgumentNullException.ThrowIfNull(serverUrl);
        ClientCredentialsServiceCollectionExtensions.RedactAuthorization(builder.Services, builder.Name);
        return builder.AddHttpMessageHandler(services => new CrossApplicationAccessHandler(
            services.GetRequiredKeyedService<CrossApplicationAccessProvider>(providerName),
            serverUrl,
            services.GetRequiredService<IHttpClientFactory>().CreateClient(BackChannelHttpClientName)));
    }

    /// <summary>How messages name the options bound from <paramref name="configuration"/>: by key when it is a section, else by <c>Type.Property</c>.</summary>
    private static ConfigurationKeys? KeysOf(IConfiguration configuration, string typeName, IReadOnlySet<string> bindable) =>
        configuration is IConfigurationSection section ? new ConfigurationKeys(typeName, section.Path + ConfigurationPath.KeyDelimiter, bindable) : null;

    private static void AddBackChannel(IServiceCollection services)
    {
        services.AddOptions();
        if (services.Any(static d => d.ServiceType == typeof(BackChannelMarker)))
        {
            return;
        }

        services.TryAddSingleton<BackChannelMarker>();
        services.AddHttpClient(BackChannelHttpClientName)
            // The providers enforce their own deadline (BackChannelTimeout); HttpClient's 100 s must not cut it short.
            .ConfigureHttpClient(static client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(static () => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
            });
        ClientCredentialsServiceCollectionExtensions.RedactAuthorization(services, BackChannelHttpClientName);
    }

    /// <summary>Marks that the providers' back channel is registered.</summary>
    private sealed class BackChannelMarker;

    /// <summary>A client for constructing a provider only to run its option checks: the constructor sends nothing.</summary>
    private static class ValidationOnly
    {
        internal static readonly HttpClient Client = new(new RefusingHandler());

        private sealed class RefusingHandler : HttpMessageHandler
        {
            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
                throw new InvalidOperationException("Option validation sends nothing.");
        }
    }
}
