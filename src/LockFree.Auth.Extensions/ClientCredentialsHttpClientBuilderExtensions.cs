using LockFree.Auth.ClientCredentials;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts LockFree.Auth's client-credentials tokens on an <c>IHttpClientFactory</c> client.</summary>
/// <remarks>Concurrency: call while building the service collection; the handlers it adds are thread-safe.</remarks>
public static class ClientCredentialsHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="ClientCredentialsTokenHandler"/> for the client-credentials client <paramref name="clientName"/>
    /// to this <see cref="HttpClient"/>: requests to the API's origin carry its token, and a <c>401</c> to that token
    /// retires it and retries once with a new one. Handlers are created per handler chain (the factory recycles them,
    /// every 2 minutes by default); the tokens live in the singleton <see cref="ClientCredentialsTokenManager"/>, so a
    /// new handler costs no exchange. The factory's request logging redacts the <c>Authorization</c> header.
    /// </summary>
    /// <param name="builder">The <see cref="HttpClient"/>'s builder.</param>
    /// <param name="clientName">The client-credentials client whose tokens are sent (registered with <c>AddClient</c>).</param>
    /// <param name="apiBaseAddress">
    /// The API whose origin gets the token; when omitted, the <see cref="HttpClient.BaseAddress"/> this named client is
    /// configured with (creating the client fails when it has none).
    /// </param>
    /// <returns>The same builder.</returns>
    public static IHttpClientBuilder AddClientCredentialsTokenHandler(this IHttpClientBuilder builder, string clientName, Uri? apiBaseAddress = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(clientName);
        var httpClientName = builder.Name;
        ClientCredentialsServiceCollectionExtensions.RedactAuthorization(builder.Services, httpClientName);
        return builder.AddHttpMessageHandler(services =>
        {
            var api = apiBaseAddress ?? ConfiguredBaseAddress(services, httpClientName) ?? throw new InvalidOperationException(
                $"The HttpClient '{httpClientName}' has no BaseAddress: set one (ConfigureHttpClient) or pass apiBaseAddress to AddClientCredentialsTokenHandler, so the token of '{clientName}' goes only to that API's origin.");
            return new ClientCredentialsTokenHandler(services.GetRequiredService<ClientCredentialsTokenManager>(), clientName, api);
        });
    }

    /// <summary>The <see cref="HttpClient.BaseAddress"/> the named client's configure actions set, read by applying them to a probe client that sends nothing.</summary>
    private static Uri? ConfiguredBaseAddress(IServiceProvider services, string httpClientName)
    {
        var options = services.GetRequiredService<IOptionsMonitor<HttpClientFactoryOptions>>().Get(httpClientName);
        using var probe = new HttpClient(new ProbeHandler());
        foreach (var configure in options.HttpClientActions)
        {
            configure(probe);
        }

        return probe.BaseAddress;
    }

    /// <summary>The probe's handler: never called (the probe sends nothing), it exists so no real connection pool is created.</summary>
    private sealed class ProbeHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("The base-address probe sends nothing.");
    }
}
