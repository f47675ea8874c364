using System.Net;
using LockFree.Auth.CrossAppAccess;
using LockFree.Auth.OAuth;
using LockFree.Auth.Testing;
using LockFree.Auth.Testing.OAuth;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Extensions.Tests;

/// <summary>
/// The two providers through DI (issue 14): a keyed singleton per name, their handlers on IHttpClientFactory clients,
/// the back channel as a named factory client, options checked when the host starts.
/// </summary>
public sealed class ProviderRegistrationTests
{
    private const int Requests = 64;

    [Fact]
    public async Task McpClientThroughDi_64ConcurrentRequests_OneGrant_AndHandlerRotationNone()
    {
        var server = new FakeMcpAuthServer(new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture)));
        server.Clients["m2m"] = "pw";
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<TimeProvider>(server.Time);
        builder.Services.AddClientOAuthProvider("mcp", new Uri(FakeMcpAuthServer.ResourceUrl), o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "m2m";
            o.ClientSecret = "pw";
        });
        builder.Services.AddHttpClient(AuthProviderServiceCollectionExtensions.BackChannelHttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new Forward(server));
        var handlersCreated = 0;
        builder.Services.AddHttpClient("mcp")
            .ConfigurePrimaryHttpMessageHandler(() => { Interlocked.Increment(ref handlersCreated); return new Forward(server); })
            .SetHandlerLifetime(TimeSpan.FromSeconds(1))
            .AddClientOAuthHandler("mcp");
        using var host = builder.Build();
        await host.StartAsync().Within();
        var factory = host.Services.GetRequiredService<IHttpClientFactory>();

        var gate = server.HoldTokenEndpoint();
        var first = Enumerable.Range(0, Requests).Select(_ => factory.CreateClient("mcp").GetAsync(FakeMcpAuthServer.ResourceUrl)).ToArray();
        gate.SetResult();
        var responses = await Task.WhenAll(first).Within();
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, server.ClientCredentialsGrants);

        // Handler rotation (lifetime 1 s, the factory's minimum): wait, bounded, until the factory built a new handler
        // chain; the provider is the container's singleton, so its token is reused and no grant follows.
        var rotation = Task.Run(async () =>
        {
            while (Volatile.Read(ref handlersCreated) < 2)
            {
                factory.CreateClient("mcp").Dispose();
                await Task.Delay(100);
            }
        });
        await rotation.Within(TimeSpan.FromSeconds(10));
        var again = await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => factory.CreateClient("mcp").GetAsync(FakeMcpAuthServer.ResourceUrl))).Within();
        Assert.All(again, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, server.ClientCredentialsGrants);
        Assert.Same(host.Services.GetRequiredKeyedService<ClientOAuthProvider>("mcp"), host.Services.GetRequiredKeyedService<ClientOAuthProvider>("mcp"));
        await host.StopAsync().Within();
    }

    [Fact]
    public async Task ClientOAuthProvider_Misconfigured_StartFailsNamingProviderAndOption()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddClientOAuthProvider("mcp", new Uri("https://mcp.example.com/mcp"), o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientSecret = "never-in-a-message";
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Contains("'mcp'", error.Message, StringComparison.Ordinal);
        Assert.Contains("ClientOAuthOptions.ClientId", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("never-in-a-message", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CrossApplicationAccessProvider_Misconfigured_StartFailsNamingTheOption()
    {
        using var host = CrossAppHost(idpUrl: null, secret: "never-in-a-message");

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().Within());

        Assert.Contains("'xaa'", error.Message, StringComparison.Ordinal);
        Assert.Contains("CrossApplicationAccessProviderOptions.IdpUrl", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("never-in-a-message", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CrossApplicationAccessProvider_Configured_IsAKeyedSingletonAndTheHandlerResolves()
    {
        using var host = CrossAppHost(idpUrl: "https://idp.example.com", secret: "s");
        await host.StartAsync().Within();

        Assert.Same(host.Services.GetRequiredKeyedService<CrossApplicationAccessProvider>("xaa"), host.Services.GetRequiredKeyedService<CrossApplicationAccessProvider>("xaa"));
        using var client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("resource");
        Assert.NotNull(client);
        await host.StopAsync().Within();
    }

    /// <summary>A host with the cross-app provider "xaa" (and the handler on the client "resource"); <paramref name="idpUrl"/> null leaves it misconfigured.</summary>
    private static IHost CrossAppHost(string? idpUrl, string secret)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddCrossApplicationAccessProvider("xaa", o =>
        {
            o.ClientId = "app";
            o.ClientSecret = secret;
            o.IdpClientId = "idp-client";
            o.IdpUrl = idpUrl;
            o.IdTokenCallback = (_, _) => Task.FromResult("id-token");
        });
        builder.Services.AddHttpClient("resource").AddCrossApplicationAccessHandler("xaa", new Uri("https://api.example.com/mcp"));
        return builder.Build();
    }

    /// <summary>A primary handler that forwards to the shared fake without owning it (the factory disposes its handlers on rotation).</summary>
    private sealed class Forward(HttpMessageHandler target) : HttpMessageHandler
    {
        private readonly HttpMessageInvoker _invoker = new(target, disposeHandler: false);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _invoker.SendAsync(request, cancellationToken);
    }
}
