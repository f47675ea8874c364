using BenchmarkDotNet.Attributes;
using Sdk = ModelContextProtocol.Authentication;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// Invalidation with nothing in flight, with 1 and 64 cached keys (resources of one authorization server), to show that
/// both of our forms are O(1) in the number of keys and allocate nothing. 2.4.0 has only <c>InvalidateCache()</c>, which
/// is also what its handler does after a 401, so it is the baseline of both of ours. Each call is made 64 times per
/// invocation; after the first one nothing is cached any more, which is the state these calls find in a steady state
/// (an invalidation that finds values only adds the next acquisition's work, measured by the storms).
/// </summary>
[MemoryDiagnoser]
public class InvalidationBenchmarks
{
    private const int Calls = 64;

    private SimulatedEndpoints _endpoints = null!;
    private HttpClient _http = null!;
    private Sdk.IdentityAssertionGrantProvider _sdk = null!;
#if HAS_CROSSAPP
    private CrossApplicationAccessProvider _ours = null!;
#endif

    /// <summary>The number of (resource, authorization server) keys cached before the measurement.</summary>
    [Params(1, 64)]
    public int Keys { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _endpoints = new SimulatedEndpoints(TimeSpan.Zero);
        _http = new HttpClient(_endpoints, disposeHandler: false);
        _sdk = new Sdk.IdentityAssertionGrantProvider(
            new Sdk.IdentityAssertionGrantProviderOptions
            {
                ClientId = "mcp-client",
                IdpTokenEndpoint = SimulatedEndpoints.IdpTokenEndpoint,
                IdpClientId = "idp-client",
                IdTokenCallback = static (_, _) => Task.FromResult("id-token.simulated"),
            },
            _http);
#if HAS_CROSSAPP
        _ours = OursCrossAppSubject.CreateProvider(_http, TimeProvider.System);
#endif
        for (var i = 0; i < Keys; i++)
        {
            var resource = i == 0 ? CrossAppSubject.Resource : new Uri($"{SimulatedEndpoints.ResourceUrl}/{i}");
            _sdk.GetAccessTokenAsync(resource, CrossAppSubject.AuthorizationServer, default).GetAwaiter().GetResult();
#if HAS_CROSSAPP
            _ours.GetAccessTokenAsync(resource, CrossAppSubject.AuthorizationServer).GetAwaiter().GetResult();
#endif
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
#if HAS_CROSSAPP
        _ours.Dispose();
#endif
        _http.Dispose();
        _endpoints.Dispose();
    }

    /// <summary>2.4.0: <c>IdentityAssertionGrantProvider.InvalidateCache()</c>.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    public void Sdk_InvalidateCache()
    {
        for (var i = 0; i < Calls; i++)
        {
            _sdk.InvalidateCache();
        }
    }

#if HAS_CROSSAPP
    /// <summary>Ours: <c>CrossApplicationAccessProvider.InvalidateCache()</c> (tokens and metadata).</summary>
    [Benchmark(OperationsPerInvoke = Calls)]
    public void Ours_InvalidateCache()
    {
        for (var i = 0; i < Calls; i++)
        {
            _ours.InvalidateCache();
        }
    }

    /// <summary>Ours: <c>CrossApplicationAccessProvider.InvalidateCache(token)</c> for a token that is not cached.</summary>
    [Benchmark(OperationsPerInvoke = Calls)]
    public bool Ours_InvalidateCache_TokenNotCached()
    {
        var acted = false;
        for (var i = 0; i < Calls; i++)
        {
            acted |= _ours.InvalidateCache("at-not-cached");
        }

        return acted;
    }
#endif
}
