using System.Diagnostics.Metrics;
using System.Net;
using LockFree.Auth.ClientCredentials;
using LockFree.Auth.Extensions;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers LockFree.Auth's client-credentials token management in an <see cref="IServiceCollection"/>.</summary>
/// <remarks>Concurrency: call while building the service collection; what it registers is thread-safe.</remarks>
public static class ClientCredentialsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <see cref="ClientCredentialsTokenManager"/> singleton (its clients are added with the returned
    /// builder), the options validation that runs when the host starts, and the back channel, a named
    /// <c>IHttpClientFactory</c> client (<see cref="ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName"/>)
    /// whose primary handler does not follow redirects. The manager takes its <see cref="TimeProvider"/> and
    /// <see cref="ILoggerFactory"/> from the container (<see cref="TimeProvider.System"/> and no logging when absent), and
    /// its meter from the container's <see cref="IMeterFactory"/> (the generic host's, or <c>AddMetrics()</c>; the
    /// library's static meter when absent), so its measurements are scoped to the container and the meter is disposed with it.
    /// Calling it again returns a new builder over the same registrations.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The builder to add clients with.</returns>
    public static ClientCredentialsTokenManagementBuilder AddClientCredentialsTokenManagement(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClientCredentialsClientOptions>, ClientCredentialsClientOptionsValidator>());
        if (!services.Any(static d => d.ServiceType == typeof(ClientCredentialsTokenManager)))
        {
            services.AddHttpClient(ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName)
                // The back channel enforces its own deadline (BackChannelTimeout); HttpClient's 100 s must not cut it short.
                .ConfigureHttpClient(static client => client.Timeout = Timeout.InfiniteTimeSpan)
                .ConfigurePrimaryHttpMessageHandler(static () => new SocketsHttpHandler
                {
                    AllowAutoRedirect = false,
                    AutomaticDecompression = DecompressionMethods.None,
                });
            RedactAuthorization(services, ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName);
            services.AddSingleton(CreateManager);
        }

        return new ClientCredentialsTokenManagementBuilder(services);
    }

    /// <summary>
    /// Registers the named <see cref="HttpClient"/> <paramref name="httpClientName"/> whose requests to its
    /// <see cref="HttpClient.BaseAddress"/>'s origin carry the tokens of the client-credentials client
    /// <paramref name="clientName"/> (see <see cref="ClientCredentialsHttpClientBuilderExtensions.AddClientCredentialsTokenHandler"/>).
    /// </summary>
    /// <param name="services">The service collection (<see cref="AddClientCredentialsTokenManagement"/> must be called too).</param>
    /// <param name="httpClientName">The name of the <see cref="HttpClient"/> (as passed to <c>IHttpClientFactory.CreateClient</c>).</param>
    /// <param name="clientName">The client-credentials client whose tokens are sent.</param>
    /// <param name="configureClient">Configures the <see cref="HttpClient"/>; set its <see cref="HttpClient.BaseAddress"/> to the API.</param>
    /// <returns>The <see cref="IHttpClientBuilder"/>, to add more handlers (for example resilience).</returns>
    public static IHttpClientBuilder AddClientCredentialsHttpClient(this IServiceCollection services, string httpClientName, string clientName, Action<HttpClient>? configureClient = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(httpClientName);
        ArgumentException.ThrowIfNullOrWhiteSpace(clientName);
        var builder = configureClient is null ? services.AddHttpClient(httpClientName) : services.AddHttpClient(httpClientName, configureClient);
        return builder.AddClientCredentialsTokenHandler(clientName);
    }

    /// <summary>Adds <c>Authorization</c> to the headers whose values the factory's request logging redacts, keeping whatever the application redacts already.</summary>
    internal static void RedactAuthorization(IServiceCollection services, string httpClientName) =>
        services.Configure<HttpClientFactoryOptions>(httpClientName, static options =>
        {
            var previous = options.ShouldRedactHeaderValue;
            options.ShouldRedactHeaderValue = header => header.Equals("Authorization", StringComparison.OrdinalIgnoreCase) || previous(header);
        });

    private static ClientCredentialsTokenManager CreateManager(IServiceProvider services)
    {
        var registry = services.GetRequiredService<IOptions<ClientRegistry>>().Value;
        var options = services.GetRequiredService<IOptionsMonitor<ClientCredentialsClientOptions>>();
        var clients = registry.KeyPrefixes.Keys.ToDictionary(static name => name, options.Get, StringComparer.Ordinal);
        var factory = services.GetRequiredService<IHttpClientFactory>();
        return new ClientCredentialsTokenManager(
            clients,
            () => factory.CreateClient(ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName),
            services.GetService<TimeProvider>() ?? TimeProvider.System,
            services.GetService<ILoggerFactory>(),
            meterFactory: services.GetService<IMeterFactory>());
    }
}
