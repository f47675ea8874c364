using BenchmarkDotNet.Attributes;
using Sdk = ModelContextProtocol.Authentication;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// The fast path: a valid token is cached and one caller asks for it. Same process, same simulated endpoints
/// (latency 0 for the warm-up exchange; the measured calls never reach them). Each side's call is awaited
/// synchronously (it completes synchronously), so neither side pays for an async state machine in the harness.
/// </summary>
[MemoryDiagnoser]
public class FastPathBenchmarks
{
    // Calls per invocation: the state core's fast path is below BenchmarkDotNet's per-invocation resolution, so
    // every method makes the same number of calls in the same loop and the time is divided by it.
    private const int Calls = 64;

    private SimulatedEndpoints _endpoints = null!;
    private HttpClient _http = null!;
    private Sdk.IdentityAssertionGrantProvider _sdk = null!;
    private AuthCoordinator<TokenContainer> _coordinator = null!;
#if HAS_CROSSAPP
    private CrossApplicationAccessProvider _ours = null!;
#endif

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
        _sdk.GetAccessTokenAsync(CrossAppSubject.Resource, CrossAppSubject.AuthorizationServer, default).GetAwaiter().GetResult();

        var token = new TokenContainer { AccessToken = "at-core", ExpiresIn = TimeSpan.FromHours(1), ObtainedAt = TimeProvider.System.GetUtcNow() };
        _coordinator = new AuthCoordinator<TokenContainer>((_, _) => Task.FromResult(token), static t => t.ExpiresAt);
        _coordinator.GetAsync().GetAwaiter().GetResult();
#if HAS_CROSSAPP
        _ours = OursCrossAppSubject.CreateProvider(_http, TimeProvider.System);
        _ours.GetAccessTokenAsync(CrossAppSubject.Resource, CrossAppSubject.AuthorizationServer).GetAwaiter().GetResult();
#endif
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _coordinator.Dispose();
        _http.Dispose();
        _endpoints.Dispose();
    }

    /// <summary>2.4.0: <c>IdentityAssertionGrantProvider.GetAccessTokenAsync</c> on a cached valid token.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    public Sdk.TokenContainer Sdk_IdentityAssertionGrantProvider()
    {
        Sdk.TokenContainer last = null!;
        for (var i = 0; i < Calls; i++)
        {
            last = _sdk.GetAccessTokenAsync(CrossAppSubject.Resource, CrossAppSubject.AuthorizationServer, default).GetAwaiter().GetResult();
        }

        return last;
    }

#if HAS_CROSSAPP
    /// <summary>Ours: <c>CrossApplicationAccessProvider.GetAccessTokenAsync</c> on a cached valid token (key lookup included).</summary>
    [Benchmark(OperationsPerInvoke = Calls)]
    public TokenContainer Ours_CrossApplicationAccessProvider()
    {
        TokenContainer last = null!;
        for (var i = 0; i < Calls; i++)
        {
            last = _ours.GetAccessTokenAsync(CrossAppSubject.Resource, CrossAppSubject.AuthorizationServer).GetAwaiter().GetResult();
        }

        return last;
    }
#endif

    /// <summary>Ours: the state core alone, <c>AuthCoordinator&lt;TokenContainer&gt;.GetAsync</c> on a cached valid token.</summary>
    [Benchmark(OperationsPerInvoke = Calls)]
    public TokenContainer Ours_AuthCoordinator()
    {
        TokenContainer last = null!;
        for (var i = 0; i < Calls; i++)
        {
            last = _coordinator.GetAsync().GetAwaiter().GetResult();
        }

        return last;
    }
}
