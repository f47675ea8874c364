using LockFree.Auth.ClientCredentials;
using LockFree.Auth.Extensions;
using Microsoft.Extensions.DependencyInjection;

namespace LockFree.Cli.Providers;

/// <summary>
/// <see cref="ClientCredentialsTokenManager"/> wired the way an application wires it (issue 14): a service collection
/// with <c>AddClientCredentialsTokenManagement().AddClient(…)</c> (token endpoint discovered from
/// <c>--authority</c>), the back channel as the named <c>IHttpClientFactory</c> client over the storm's observed
/// handler, the storm's clock as the container's <see cref="TimeProvider"/>; every storm client sends through a
/// <see cref="ClientCredentialsTokenHandler"/> on the singleton manager.
/// </summary>
/// <remarks>Concurrency: everything shared lives in the manager; the handlers keep no state.</remarks>
internal sealed class ClientCredentialsStormProvider : IStormProvider
{
    private const string ClientName = "storm";

    private readonly ServiceProvider _services;
    private readonly ClientCredentialsTokenManager _manager;
    private readonly Uri _resource;

    public ClientCredentialsStormProvider(StormTarget target, HttpMessageHandler backChannel, TimeProvider time)
    {
        _resource = target.Resource;
        var services = new ServiceCollection();
        services.AddSingleton(time);
        services.AddClientCredentialsTokenManagement().AddClient(ClientName, options =>
        {
            options.Authority = target.Authority;
            options.ClientId = target.ClientId;
            options.ClientSecret = target.ClientSecret;
            options.Scope = target.Scope is { Length: > 0 } scope ? scope : null;
        });

        // The storm counts token requests on its own handler: it becomes the back channel's primary handler (wrapped,
        // so the factory's handler rotation never disposes it).
        services.AddHttpClient(ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new NotDisposingHandler(backChannel));
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        _manager = _services.GetRequiredService<ClientCredentialsTokenManager>();
    }

    public string DisplayName => "ClientCredentialsTokenHandler (client credentials, through DI)";

    public HttpMessageHandler CreateHandler(HttpMessageHandler wire) => new ClientCredentialsTokenHandler(_manager, ClientName, _resource, wire);

    public void Dispose() => _services.Dispose();

    /// <summary>Sends through a handler it does not own (disposing this one leaves that one alone).</summary>
    private sealed class NotDisposingHandler(HttpMessageHandler inner) : HttpMessageHandler
    {
        private readonly HttpMessageInvoker _inner = new(inner, disposeHandler: false);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _inner.SendAsync(request, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
