using System.Diagnostics.Metrics;
using System.Net;
using LockFree.Auth.ClientCredentials;
using LockFree.Auth.CrossAppAccess;
using LockFree.Auth.Diagnostics;
using LockFree.Auth.OAuth;
using LockFree.Auth.Testing.OAuth;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Extensions.Tests;

/// <summary>
/// The meter comes from the container's <see cref="IMeterFactory"/> (spec/dependency-injection.md, M1–M4): a container's
/// <see cref="MetricCollector{T}"/> sees its own storms and nothing of another container in the same process; the meter is
/// disposed with the container; without a factory the static meter still reports.
/// </summary>
public sealed class MeterFactoryTests
{
    private const int Callers = 64;
    private const string TokenEndpoint = "https://auth.example.com/token";
    private const string Started = "lockfree.auth.acquisitions.started";
    private const string Coalesced = "lockfree.auth.callers.coalesced";
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-12-06T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task ClientCredentials_ColdStormOf64_OneStartedOnItsContainersMeter_NoneOnAnothers()
    {
        using var a = ClientCredentialsContainer(out var serverA);
        using var b = ClientCredentialsContainer(out var serverB);
        using var startedA = Collect<long>(a, Started);
        using var coalescedA = Collect<long>(a, Coalesced);
        using var startedB = Collect<long>(b, Started);
        using var coalescedB = Collect<long>(b, Coalesced);

        await ClientCredentialsStormAsync(a, serverA, coalescedA);

        Assert.Equal(1, serverA.ClientCredentialsGrants);
        Assert.Equal(1, Sum(startedA, "client-credentials.billing"));
        Assert.Equal(Callers - 1, Sum(coalescedA, "client-credentials.billing"));
        Assert.Empty(startedB.GetMeasurementSnapshot());
        Assert.Empty(coalescedB.GetMeasurementSnapshot());

        // B's collector is live: its own storm is seen there, and A's collector sees none of it.
        await ClientCredentialsStormAsync(b, serverB, coalescedB);

        Assert.Equal(1, Sum(startedB, "client-credentials.billing"));
        Assert.Equal(1, Sum(startedA, "client-credentials.billing"));
        Assert.Equal(Callers - 1, Sum(coalescedA, "client-credentials.billing"));
    }

    [Fact]
    public async Task ClientCredentials_FastPathOnTheContainersMeter_AllocatesNothingAndRecordsNothing()
    {
        using var container = ClientCredentialsContainer(out var server);
        using var coalesced = Collect<long>(container, Coalesced);
        await ClientCredentialsStormAsync(container, server, coalesced);
        using var started = Collect<long>(container, Started);
        using var joined = Collect<long>(container, Coalesced);
        using var duration = Collect<double>(container, "lockfree.auth.acquisition.duration");
        using var wait = Collect<double>(container, "lockfree.auth.coalesced.wait");
        var manager = container.GetRequiredService<ClientCredentialsTokenManager>();
        var cached = await manager.GetAccessTokenAsync("billing").Within();

        // Warm up, then measure: with every instrument of the container's meter listened to, a cached token is a
        // dictionary lookup and one volatile read, and records nothing.
        for (var i = 0; i < 100; i++) { _ = manager.GetAccessTokenAsync("billing"); }
        var before = GC.GetAllocatedBytesForCurrentThread();
        Task<ClientCredentialsToken>? last = null;
        for (var i = 0; i < 10_000; i++) { last = manager.GetAccessTokenAsync("billing"); }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Same(cached, last!.ResultWithin());
        Assert.Empty(started.GetMeasurementSnapshot());
        Assert.Empty(joined.GetMeasurementSnapshot());
        Assert.Empty(duration.GetMeasurementSnapshot());
        Assert.Empty(wait.GetMeasurementSnapshot());
        Assert.Equal(1, server.ClientCredentialsGrants);
    }

    [Fact]
    public void ClientCredentials_TheMeterIsTheFactorysAndIsDisposedWithTheContainer()
    {
        var container = ClientCredentialsContainer(out _);
        var factory = container.GetRequiredService<IMeterFactory>();
        var enabled = new HashSet<Instrument>();
        var completed = new HashSet<Instrument>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == AuthMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    lock (enabled) { enabled.Add(instrument); }
                    l.EnableMeasurementEvents(instrument);
                }
            },
            MeasurementsCompleted = (instrument, _) =>
            {
                lock (completed) { completed.Add(instrument); }
            },
        };
        listener.Start();
        _ = container.GetRequiredService<ClientCredentialsTokenManager>();

        lock (enabled) { Assert.Equal(10, enabled.Count); } // 8 counters, 2 histograms
        Assert.All(enabled, i => Assert.Equal(AuthInstruments.MeterVersion, i.Meter.Version));
        lock (completed) { Assert.Empty(completed); }

        container.Dispose();

        lock (completed) { Assert.Equal(enabled.OrderBy(i => i.Name), completed.OrderBy(i => i.Name)); }
    }

    [Fact]
    public async Task ClientCredentials_WithoutAFactory_TheStaticMeterStillReports()
    {
        var server = new FakeMcpAuthServer(new FakeTimeProvider(Start));
        server.Clients["m2m"] = "pw";
        var name = "static-" + Guid.NewGuid().ToString("N");
        using var started = new MetricCollector<long>(AuthInstruments.Default.AcquisitionsStarted);
        using var http = new HttpClient(server, disposeHandler: false);
        using var manager = new ClientCredentialsTokenManager(
            new Dictionary<string, ClientCredentialsClientOptions> { [name] = ClientOptions() },
            () => http,
            server.Time);

        var tokens = await Task.WhenAll(Enumerable.Range(0, Callers).Select(_ => Task.Run(() => manager.GetAccessTokenAsync(name)))).Within();

        Assert.Single(tokens.Distinct());
        Assert.Equal(1, Sum(started, "client-credentials." + name));
    }

    [Fact]
    public async Task ClientOAuthProvider_StormOf64_OneTokenAcquisitionOnItsContainersMeter_NoneOnAnothers()
    {
        using var a = ClientOAuthContainer(out var serverA);
        using var b = ClientOAuthContainer(out _);
        using var startedA = Collect<long>(a, Started);
        using var coalescedA = Collect<long>(a, Coalesced);
        using var startedB = Collect<long>(b, Started);
        Assert.Same(a.GetRequiredService<IMeterFactory>(), a.GetRequiredService<IOptionsMonitor<ClientOAuthOptions>>().Get("mcp").MeterFactory);

        var provider = a.GetRequiredKeyedService<ClientOAuthProvider>("mcp");
        var gate = serverA.HoldTokenEndpoint();
        var callers = Enumerable.Range(0, Callers).Select(_ => Task.Run(() => provider.GetTokensAsync())).ToArray();
        await coalescedA.WaitUntilAsync(m => Sum(m, "oauth.tokens") >= Callers - 1).Within();
        gate.SetResult();
        var tokens = await Task.WhenAll(callers).Within();

        Assert.Single(tokens.Select(t => t.AccessToken).Distinct());
        Assert.Equal(1, serverA.ClientCredentialsGrants);
        Assert.Equal(1, Sum(startedA, "oauth.tokens"));
        Assert.Equal(1, Sum(startedA, "oauth.metadata"));
        Assert.Empty(startedB.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task CrossApplicationAccessProvider_StormOf64_OneAcquisitionOnItsContainersMeter_NoneOnAnothers()
    {
        using var a = CrossAppContainer(out var backChannelA);
        using var b = CrossAppContainer(out _);
        using var startedA = Collect<long>(a, Started);
        using var coalescedA = Collect<long>(a, Coalesced);
        using var failedA = Collect<long>(a, "lockfree.auth.acquisitions.failed");
        using var startedB = Collect<long>(b, Started);
        Assert.Same(a.GetRequiredService<IMeterFactory>(), a.GetRequiredService<IOptionsMonitor<CrossApplicationAccessProviderOptions>>().Get("xaa").MeterFactory);

        // Every back-channel request is held, then answered 503: the one acquisition fails for all 64 callers.
        var provider = a.GetRequiredKeyedService<CrossApplicationAccessProvider>("xaa");
        var callers = Enumerable.Range(0, Callers)
            .Select(_ => Task.Run(() => provider.GetAccessTokenAsync(new Uri("https://api.example.com/mcp"), new Uri("https://as.example.com"))))
            .ToArray();
        await coalescedA.WaitUntilAsync(m => Sum(m, "cross-app-access") >= Callers - 1).Within();
        backChannelA.Release.SetResult();
        foreach (var caller in callers)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => caller.Within());
        }

        Assert.Equal(1, Sum(startedA, "cross-app-access"));
        Assert.Equal(1, Sum(failedA, "cross-app-access"));
        Assert.Empty(startedB.GetMeasurementSnapshot());
    }

    [Fact]
    public async Task ClientOAuthProvider_SharedTokens_AdoptionIsRecordedOnTheAdoptingContainersMeter()
    {
        // Two replicas (containers) of one client identity share tokens through one store: B adopts A's token.
        var server = new FakeMcpAuthServer(new FakeTimeProvider(Start));
        server.Clients["m2m"] = "pw";
        var store = new InMemorySharedTokenStore();
        using var a = ClientOAuthContainer(server, new TokenSharing(store, "m2m", new SharedTokenOptions { StorePlainText = true }));
        using var b = ClientOAuthContainer(server, new TokenSharing(store, "m2m", new SharedTokenOptions { StorePlainText = true }));
        using var adoptedA = Collect<long>(a, "lockfree.auth.shared.adopted");
        using var adoptedB = Collect<long>(b, "lockfree.auth.shared.adopted");

        var first = await a.GetRequiredKeyedService<ClientOAuthProvider>("mcp").GetTokensAsync().Within();
        var adopted = await b.GetRequiredKeyedService<ClientOAuthProvider>("mcp").GetTokensAsync().Within();

        Assert.Equal(first.AccessToken, adopted.AccessToken);
        Assert.Equal(1, server.ClientCredentialsGrants);
        Assert.Equal(1, Sum(adoptedB, "shared"));
        Assert.Empty(adoptedA.GetMeasurementSnapshot());
    }

    [Fact]
    public void Providers_AMeterFactorySetInTheOptions_IsKept()
    {
        using var own = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = own.GetRequiredService<IMeterFactory>();
        var services = new ServiceCollection().AddMetrics();
        services.AddClientOAuthProvider("mcp", new Uri(FakeMcpAuthServer.ResourceUrl), o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "m2m";
            o.ClientSecret = "pw";
            o.MeterFactory = factory;
        });
        using var container = services.BuildServiceProvider();

        Assert.Same(factory, container.GetRequiredService<IOptionsMonitor<ClientOAuthOptions>>().Get("mcp").MeterFactory);
        Assert.NotSame(factory, container.GetRequiredService<IMeterFactory>());
    }

    private static async Task ClientCredentialsStormAsync(ServiceProvider container, FakeMcpAuthServer server, MetricCollector<long> coalesced)
    {
        var manager = container.GetRequiredService<ClientCredentialsTokenManager>();
        var gate = server.HoldTokenEndpoint();
        var callers = Enumerable.Range(0, Callers).Select(_ => Task.Run(() => manager.GetAccessTokenAsync("billing"))).ToArray();

        // Cold: the exchange is held until every other caller joined it.
        await coalesced.WaitUntilAsync(m => Sum(m, "client-credentials.billing") >= Callers - 1).Within();
        gate.SetResult();
        var tokens = await Task.WhenAll(callers).Within();
        Assert.Single(tokens.Distinct());
    }

    private static ServiceProvider ClientCredentialsContainer(out FakeMcpAuthServer server)
    {
        var fake = server = new FakeMcpAuthServer(new FakeTimeProvider(Start));
        fake.Clients["m2m"] = "pw";
        var services = new ServiceCollection().AddMetrics();
        services.AddSingleton<TimeProvider>(fake.Time);
        services.AddClientCredentialsTokenManagement().AddClient("billing", o =>
        {
            var options = ClientOptions();
            o.TokenEndpoint = options.TokenEndpoint;
            o.ClientId = options.ClientId;
            o.ClientSecret = options.ClientSecret;
        });
        services.AddHttpClient(ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new Forward(fake));
        return services.BuildServiceProvider();
    }

    private static ServiceProvider ClientOAuthContainer(out FakeMcpAuthServer server)
    {
        server = new FakeMcpAuthServer(new FakeTimeProvider(Start));
        server.Clients["m2m"] = "pw";
        return ClientOAuthContainer(server, sharing: null);
    }

    private static ServiceProvider ClientOAuthContainer(FakeMcpAuthServer server, TokenSharing? sharing)
    {
        var services = new ServiceCollection().AddMetrics();
        services.AddSingleton<TimeProvider>(server.Time);
        services.AddClientOAuthProvider("mcp", new Uri(FakeMcpAuthServer.ResourceUrl), o =>
        {
            o.GrantType = OAuthGrantType.ClientCredentials;
            o.ClientId = "m2m";
            o.ClientSecret = "pw";
            o.SharedTokens = sharing;
        });
        services.AddHttpClient(AuthProviderServiceCollectionExtensions.BackChannelHttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new Forward(server));
        return services.BuildServiceProvider();
    }

    private static ServiceProvider CrossAppContainer(out HeldFailure backChannel)
    {
        var held = backChannel = new HeldFailure();
        var services = new ServiceCollection().AddMetrics();
        services.AddCrossApplicationAccessProvider("xaa", o =>
        {
            o.ClientId = "app";
            o.ClientSecret = "s";
            o.IdpClientId = "idp-client";
            o.IdpTokenEndpoint = "https://idp.example.com/token";
            o.IdTokenCallback = (_, _) => Task.FromResult("id-token");
        });
        services.AddHttpClient(AuthProviderServiceCollectionExtensions.BackChannelHttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new Forward(held));
        return services.BuildServiceProvider();
    }

    private static ClientCredentialsClientOptions ClientOptions() => new()
    {
        TokenEndpoint = new Uri(TokenEndpoint),
        ClientId = "m2m",
        ClientSecret = "pw",
    };

    private static MetricCollector<T> Collect<T>(IServiceProvider container, string instrument) where T : struct =>
        new(container.GetRequiredService<IMeterFactory>(), AuthMetrics.MeterName, instrument);

    private static long Sum(MetricCollector<long> collector, string coordinator) => Sum(collector.GetMeasurementSnapshot(), coordinator);

    private static long Sum(IReadOnlyList<CollectedMeasurement<long>> measurements, string coordinator) =>
        measurements.Where(m => m.Tags.TryGetValue(AuthMetrics.CoordinatorTag, out var name) && (string?)name == coordinator).Sum(m => m.Value);

    /// <summary>A back channel that holds every request until <see cref="Release"/> completes, then answers 503.</summary>
    private sealed class HeldFailure : HttpMessageHandler
    {
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Release.Task.WaitAsync(cancellationToken);
            return new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        }
    }

    /// <summary>A primary handler that forwards to a shared fake without owning it (the factory disposes its handlers).</summary>
    private sealed class Forward(HttpMessageHandler target) : HttpMessageHandler
    {
        private readonly HttpMessageInvoker _invoker = new(target, disposeHandler: false);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            _invoker.SendAsync(request, cancellationToken);
    }
}

/// <summary>Waits on a <see cref="MetricCollector{T}"/> until its measurements satisfy a condition (bound it with <c>Within</c>).</summary>
internal static class MetricCollectorWaits
{
    public static async Task WaitUntilAsync<T>(this MetricCollector<T> collector, Func<IReadOnlyList<CollectedMeasurement<T>>, bool> done) where T : struct
    {
        while (!done(collector.GetMeasurementSnapshot()))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }
    }
}
