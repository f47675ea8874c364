using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using BenchmarkDotNet.Attributes;
using Microsoft.Identity.Client;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// The client credentials comparison (<c>-- client-credentials</c>, spec/benchmarks.md): our
/// <see cref="ClientCredentialsTokenManager"/> / <see cref="ClientCredentialsTokenHandler"/>, MSAL.NET 4.92
/// (<c>ConfidentialClientApplication.AcquireTokenForClient</c> over a generic OIDC authority) and Azure.Core 1.65
/// (<c>BearerTokenAuthenticationPolicy</c> over a <see cref="TokenCredential"/> that calls the same token endpoint), in one
/// process, each against its own <see cref="SimulatedEndpoints"/> instance with the same hop latency.
/// </summary>
internal static class ClientCredentialsSides
{
    public const string ClientName = "svc";
    public const string Scope = "api";

    public static readonly Uri Resource = new(SimulatedEndpoints.ResourceUrl);

    public static ClientCredentialsTokenManager Ours(HttpClient backChannel) => new(
        new Dictionary<string, ClientCredentialsClientOptions>
        {
            [ClientName] = new()
            {
                TokenEndpoint = new Uri(SimulatedEndpoints.AsTokenEndpoint),
                ClientId = ClientName,
                ClientSecret = "s3cret",
                Scope = Scope,
            },
        },
        () => backChannel);

    /// <summary>MSAL with a generic (non-Entra) authority: discovery from <c>{issuer}/.well-known/openid-configuration</c>.</summary>
    public static IConfidentialClientApplication Msal(HttpClient http) => ConfidentialClientApplicationBuilder
        .Create(ClientName)
        .WithClientSecret("s3cret")
        .WithOidcAuthority(SimulatedEndpoints.Issuer)
        .WithHttpClientFactory(new MsalHttpClientFactory(http))
        .Build();

    public static HttpPipeline Azure(HttpClient http) => new(
        new HttpClientTransport(http),
        [new BearerTokenAuthenticationPolicy(new SimulatedTokenCredential(http), Scope)]);

    public static HttpClient OursApi(ClientCredentialsTokenManager manager, HttpMessageHandler resource) =>
        new(new ClientCredentialsTokenHandler(manager, ClientName, new Uri("https://mcp.example/"), resource), disposeHandler: false);

    public static HttpClient MsalApi(IConfidentialClientApplication app, HttpMessageHandler resource) =>
        new(new MsalHandler(app, resource), disposeHandler: false);

    public static async Task<HttpStatusCode> AzureGetAsync(HttpPipeline pipeline, CancellationToken cancellationToken = default)
    {
        using var message = pipeline.CreateMessage();
        message.Request.Method = RequestMethod.Get;
        message.Request.Uri.Reset(Resource);
        await pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
        return (HttpStatusCode)message.Response.Status;
    }

    public static async Task<HttpStatusCode> GetAsync(HttpClient api)
    {
        using var response = await api.GetAsync(Resource).ConfigureAwait(false);
        return response.StatusCode;
    }

    private sealed class MsalHttpClientFactory(HttpClient http) : IMsalHttpClientFactory
    {
        public HttpClient GetHttpClient() => http;
    }

    /// <summary>
    /// The handler an application writes around MSAL: the cached token on every request; on a 401 the only remedy MSAL
    /// offers is <c>WithForceRefresh(true)</c> (an unconditional new exchange), then one retry.
    /// </summary>
    private sealed class MsalHandler(IConfidentialClientApplication app, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private static readonly string[] s_scopes = [Scope];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var result = await app.AcquireTokenForClient(s_scopes).ExecuteAsync(cancellationToken).ConfigureAwait(false);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", result.AccessToken);
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                return response;
            }

            response.Dispose();
            result = await app.AcquireTokenForClient(s_scopes).WithForceRefresh(true).ExecuteAsync(cancellationToken).ConfigureAwait(false);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", result.AccessToken);
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>A minimal client-secret credential against the simulated token endpoint (Azure.Core caches in the policy).</summary>
internal sealed class SimulatedTokenCredential(HttpClient http) : TokenCredential
{
    public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        GetTokenAsync(requestContext, cancellationToken).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken)
    {
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = ClientCredentialsSides.ClientName,
            ["client_secret"] = "s3cret",
            ["scope"] = string.Join(' ', requestContext.Scopes),
        });
        using var response = await http.PostAsync(new Uri(SimulatedEndpoints.AsTokenEndpoint), form, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        var root = json.RootElement;
        return new AccessToken(
            root.GetProperty("access_token").GetString()!,
            DateTimeOffset.UtcNow.AddSeconds(root.GetProperty("expires_in").GetInt32()));
    }
}

/// <summary>The fast path: a valid token is cached; one caller gets it (token only) or sends one authenticated request.</summary>
[MemoryDiagnoser]
public class ClientCredentialsFastPathBenchmarks
{
    private static readonly string[] s_scopes = [ClientCredentialsSides.Scope];
    private SimulatedEndpoints _endpoints = null!;
    private HttpClient _http = null!;
    private OkResource _resource = null!;
    private ClientCredentialsTokenManager _ours = null!;
    private IConfidentialClientApplication _msal = null!;
    private HttpPipeline _azure = null!;
    private HttpClient _oursApi = null!;
    private HttpClient _msalApi = null!;

    [GlobalSetup]
    public void Setup()
    {
        _endpoints = new SimulatedEndpoints(TimeSpan.Zero);
        _http = new HttpClient(_endpoints, disposeHandler: false);
        _resource = new OkResource();
        _ours = ClientCredentialsSides.Ours(_http);
        _msal = ClientCredentialsSides.Msal(_http);
        _azure = new HttpPipeline(new HttpClientTransport(new HttpClient(_resource, disposeHandler: false)),
            [new BearerTokenAuthenticationPolicy(new SimulatedTokenCredential(_http), ClientCredentialsSides.Scope)]);
        _oursApi = ClientCredentialsSides.OursApi(_ours, _resource);
        _msalApi = ClientCredentialsSides.MsalApi(_msal, _resource);
        OursToken().GetAwaiter().GetResult();
        MsalToken().GetAwaiter().GetResult();
        OursRequest().GetAwaiter().GetResult();
        MsalRequest().GetAwaiter().GetResult();
        AzureRequest().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public Task<ClientCredentialsToken> OursToken() => _ours.GetAccessTokenAsync(ClientCredentialsSides.ClientName);

    [Benchmark]
    public Task<AuthenticationResult> MsalToken() => _msal.AcquireTokenForClient(s_scopes).ExecuteAsync();

    [Benchmark]
    public Task<HttpStatusCode> OursRequest() => ClientCredentialsSides.GetAsync(_oursApi);

    [Benchmark]
    public Task<HttpStatusCode> MsalRequest() => ClientCredentialsSides.GetAsync(_msalApi);

    [Benchmark]
    public Task<HttpStatusCode> AzureRequest() => ClientCredentialsSides.AzureGetAsync(_azure);

    /// <summary>A resource that answers 200 at once (the fast path measures the client side only).</summary>
    internal sealed class OkResource : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });
    }
}

/// <summary>
/// The storms of the comparison, in this process, side after side in each repetition: every side gets a fresh
/// <see cref="SimulatedEndpoints"/> (same hop latency for metadata, token endpoint and resource) and N callers that each
/// send one authenticated GET to the resource at once.
/// </summary>
internal static class ClientCredentialsStorms
{
    public sealed record Cell(string Scenario, string Side, int Callers, int Exchanges, int Ok, int Unauthorized, double Ms);

    public static async Task<List<Cell>> RunAsync(int callers, int hopMs, int reps)
    {
        var cells = new List<Cell>();
        for (var rep = -1; rep < reps; rep++)
        {
            if (rep < 0)
            {
                // Warm-up (JIT, MSAL's static state), not recorded.
                foreach (var side in new[] { "LockFree", "MSAL 4.92", "Azure.Core 1.65" })
                {
                    await StormAsync("expiry", side, 16, hopMs: 1).ConfigureAwait(false);
                    await StormAsync("401", side, 16, hopMs: 1).ConfigureAwait(false);
                }

                continue;
            }

            foreach (var side in new[] { "LockFree", "MSAL 4.92", "Azure.Core 1.65" })
            {
                cells.Add(await StormAsync("expiry", side, callers, hopMs).ConfigureAwait(false));
                cells.Add(await StormAsync("401", side, callers, hopMs).ConfigureAwait(false));
            }
        }

        return cells;
    }

    private static async Task<Cell> StormAsync(string scenario, string side, int callers, int hopMs)
    {
        using var endpoints = new SimulatedEndpoints(TimeSpan.FromMilliseconds(hopMs));
        using var http = new HttpClient(endpoints, disposeHandler: false);
        using var ours = ClientCredentialsSides.Ours(http);
        var msal = ClientCredentialsSides.Msal(http);
        var azure = ClientCredentialsSides.Azure(http);
        using var oursApi = ClientCredentialsSides.OursApi(ours, endpoints);
        using var msalApi = ClientCredentialsSides.MsalApi(msal, endpoints);
        Func<Task<HttpStatusCode>> call = side switch
        {
            "LockFree" => () => ClientCredentialsSides.GetAsync(oursApi),
            "MSAL 4.92" => () => ClientCredentialsSides.GetAsync(msalApi),
            _ => () => ClientCredentialsSides.AzureGetAsync(azure),
        };

        if (side == "MSAL 4.92")
        {
            // MSAL's OIDC discovery is one-time per process and authority; do it outside the measured storm.
            await msal.AcquireTokenForClient([ClientCredentialsSides.Scope]).WithForceRefresh(true).ExecuteAsync().ConfigureAwait(false);
            if (scenario == "expiry")
            {
                // A fresh application: the storm finds its cache empty (as when the token has expired).
                var fresh = ClientCredentialsSides.MsalApi(ClientCredentialsSides.Msal(http), endpoints);
                call = () => ClientCredentialsSides.GetAsync(fresh);
            }
        }

        if (scenario == "401")
        {
            // Every side holds one valid token; the resource then rejects it, and N callers send with it at once.
            if (await call().ConfigureAwait(false) != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"{side}: the warm-up request failed.");
            }

            for (var serial = 1; serial <= endpoints.ClientCredentialsGrants; serial++)
            {
                endpoints.Revoke("at-" + serial.ToString(CultureInfo.InvariantCulture));
            }
        }

        endpoints.ResetCounters();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = new Task<HttpStatusCode>[callers];
        for (var i = 0; i < callers; i++)
        {
            tasks[i] = CallAfter(start.Task, call);
        }

        var clock = Stopwatch.StartNew();
        start.SetResult();
        var statuses = await Task.WhenAll(tasks).ConfigureAwait(false);
        clock.Stop();
        return new Cell(scenario, side, callers, endpoints.ClientCredentialsGrants,
            statuses.Count(s => s == HttpStatusCode.OK), statuses.Count(s => s == HttpStatusCode.Unauthorized), clock.Elapsed.TotalMilliseconds);
    }

    private static async Task<HttpStatusCode> CallAfter(Task start, Func<Task<HttpStatusCode>> call)
    {
        await start.ConfigureAwait(false);
        return await call().ConfigureAwait(false);
    }
}

/// <summary><c>-- client-credentials</c>: the fast path (BenchmarkDotNet) and the storms; writes a markdown table.</summary>
internal static class ClientCredentialsCommand
{
    public static async Task<int> RunAsync(RunOptions options, string artifacts)
    {
        var summary = options.StormsOnly ? null : Program.RunBenchmarks<ClientCredentialsFastPathBenchmarks>(options, artifacts, "ClientCredentials");
        var md = new System.Text.StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Client credentials: LockFree vs MSAL.NET 4.92.0 vs Azure.Core 1.65.0 ({DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, load {Load()})");
        md.AppendLine().AppendLine("| Fast path (valid cached token) | median ns | allocated B |").AppendLine("|---|---:|---:|");
        foreach (var r in summary?.Reports ?? [])
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.BenchmarkCase.Descriptor.WorkloadMethod.Name} | {r.ResultStatistics?.Median:F0} | {r.GcStats.GetBytesAllocatedPerOperation(r.BenchmarkCase)} |");
        }

        var cells = await ClientCredentialsStorms.RunAsync(options.Callers, options.HopMs, options.Reps).ConfigureAwait(false);
        md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Storms: {options.Callers} callers, hop {options.HopMs} ms, {options.Reps} reps (median time; exchanges/ok/401 of the median rep)")
            .AppendLine().AppendLine("| scenario | side | token exchanges | ok | 401 to caller | median ms | min–max ms |").AppendLine("|---|---|---:|---:|---:|---:|---|");
        foreach (var g in cells.GroupBy(c => (c.Scenario, c.Side)))
        {
            var sorted = g.OrderBy(c => c.Ms).ToList();
            var median = sorted[sorted.Count / 2];
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {g.Key.Scenario} | {g.Key.Side} | {median.Exchanges} | {median.Ok} | {median.Unauthorized} | {median.Ms:F0} | {sorted[0].Ms:F0}–{sorted[^1].Ms:F0} |");
        }

        var path = Path.Combine(artifacts, "client-credentials.md");
        await File.WriteAllTextAsync(path, md.ToString()).ConfigureAwait(false);
        Console.WriteLine(md);
        Console.WriteLine($"Written to {path}.");
        return 0;
    }

    private static string Load() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
}
