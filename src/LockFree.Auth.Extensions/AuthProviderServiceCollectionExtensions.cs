using System.Diagnostics.Metrics;
using System.Net;
using LockFree.Auth.CrossAppAccess;
using LockFree.Auth.Extensions;
using LockFree.Auth.OAuth;
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
/// container and its meter is disposed with it. The options are validated when the host starts (<c>ValidateOnStart</c>): the provider's own
/// checks run, and a failure names the provider and the option.
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
        AddBackChannel(services);
        services.AddOptions<ClientOAuthOptions>(name).Configure(configure)
            .PostConfigure<IServiceProvider>(static (options, provider) => options.MeterFactory ??= provider.GetService<IMeterFactory>())
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ClientOAuthOptions>>(new ProviderOptionsValidator<ClientOAuthOptions>(
            name, options => new ClientOAuthProvider(serverUrl, options, ValidationOnly.Client)));
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
        AddBackChannel(services);
        services.AddOptions<CrossApplicationAccessProviderOptions>(name).Configure(configure)
            .PostConfigure<IServiceProvider>(static (options, provider) => options.MeterFactory ??= provider.GetService<IMeterFactory>())
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<CrossApplicationAccessProviderOptions>>(new ProviderOptionsValidator<CrossApplicationAccessProviderOptions>(
            name, options => new CrossApplicationAccessProvider(options, ValidationOnly.Client)));
        services.AddKeyedSingleton(name, (provider, _) => new CrossApplicationAccessProvider(
            provider.GetRequiredService<IOptionsMonitor<CrossApplicationAccessProviderOptions>>().Get(name),
            provider.GetRequiredService<IHttpClientFactory>().CreateClient(BackChannelHttpClientName),
            provider.GetService<ILoggerFactory>(),
            provider.GetService<TimeProvider>()));
        return services;
    }

    /// <summary>Adds the <see cref="ClientOAuthHandler"/> of the provider <paramref name="providerName"/> to this client: its requests carry the provider's tokens (to the MCP server's origin only) and a <c>401</c>/<c>403</c> runs the provider's challenge policy.</summary>
    /// <param name="builder">The <see cref="HttpClient"/>'s builder (for example the MCP transport's client).</param>
    /// <param name="providerName">The name given to <see cref="AddClientOAuthProvider"/>.</param>
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
    /// <param name="providerName">The name given to <see cref="AddCrossApplicationAccessProvider"/>.</param>
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
