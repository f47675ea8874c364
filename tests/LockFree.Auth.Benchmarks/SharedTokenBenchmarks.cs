using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LockFree.Auth.Redis;
using StackExchange.Redis;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// <c>-- shared</c> (issue 13, spec/distributed.md "Cost"): in one process with a private <c>redis-server</c>,
/// (1) the fast path with a shared store vs without (a coordinator whose acquisition is a
/// <see cref="SharedTokenAcquisition"/> over <see cref="RedisSharedTokenStore"/>, as the providers wire
/// <c>SharedTokens</c>, vs the same coordinator with the plain exchange): must be equal, no I/O;
/// (2) the slow path: a cold replica adopting the shared token (one Redis read, no exchange) vs a cold client that
/// exchanges against a simulated token endpoint with a 5 ms hop. Stopwatch loops, medians of rounds.
/// </summary>
internal static class SharedTokenBenchmarks
{
    private const int FastCalls = 5_000_000;
    private const int FastRounds = 7;
    private const int ColdRounds = 200;
    private static readonly TimeSpan Hop = TimeSpan.FromMilliseconds(5);

    public static async Task<int> RunAsync()
    {
        await using var redisServer = await PrivateRedis.StartAsync().ConfigureAwait(false);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { redisServer.Endpoint },
            AbortOnConnectFail = false,
            BacklogPolicy = BacklogPolicy.FailFast,
        }).ConfigureAwait(false);
        var store = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = "bench" });
        var options = new SharedTokenOptions { Protector = new AesGcmSharedTokenProtector(RandomNumberGenerator.GetBytes(32)) };
        using var endpoint = new SimulatedTokenEndpoint(Hop);
        using var http = new HttpClient(endpoint, disposeHandler: false);
        var exchanges = 0;
        async Task<TokenContainer> ExchangeAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref exchanges);
            using var response = await http.PostAsync(new Uri("https://as.example/token"),
                new FormUrlEncodedContent([KeyValuePair.Create("grant_type", "client_credentials")]), cancellationToken).ConfigureAwait(false);
            using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
            return new TokenContainer
            {
                AccessToken = json.RootElement.GetProperty("access_token").GetString()!,
                RefreshToken = json.RootElement.GetProperty("refresh_token").GetString(),
                ExpiresIn = TimeSpan.FromSeconds(json.RootElement.GetProperty("expires_in").GetInt32()),
                ObtainedAt = TimeProvider.System.GetUtcNow(),
            };
        }

        // (1) fast path
        using var plain = new AuthCoordinator<TokenContainer>(ExchangeAsync, static t => t.ExpiresAt);
        using var shared = new AuthCoordinator<TokenContainer>(new SharedTokenAcquisition(store, "fast", ExchangeAsync, options).AcquireAsync, static t => t.ExpiresAt);
        await plain.GetAsync().ConfigureAwait(false);
        await shared.GetAsync().ConfigureAwait(false);
        var fastOff = FastPath(plain);
        var fastOn = FastPath(shared);

        // (2) slow path: replica A publishes; each cold replica B (new coordinator, new acquisition) adopts.
        using (var a = new AuthCoordinator<TokenContainer>(new SharedTokenAcquisition(store, "cold", ExchangeAsync, options).AcquireAsync, static t => t.ExpiresAt))
        {
            await a.GetAsync().ConfigureAwait(false);
        }

        var before = exchanges;
        var adopt = await ColdAsync(() => new SharedTokenAcquisition(store, "cold", ExchangeAsync, options).AcquireAsync).ConfigureAwait(false);
        var adoptExchanges = exchanges - before;
        before = exchanges;
        var exchange = await ColdAsync(() => ExchangeAsync).ConfigureAwait(false);
        var exchangeExchanges = exchanges - before;

        var load = File.Exists("/proc/loadavg") ? (await File.ReadAllTextAsync("/proc/loadavg").ConfigureAwait(false)).Split(' ')[0] : "n/a";
        Console.WriteLine($"Shared tokens (issue 13), {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, load average {load}, .NET {Environment.Version}");
        Console.WriteLine();
        Console.WriteLine("| path | SharedTokens off | SharedTokens on (Redis) | ratio |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine(FormattableString.Invariant($"| fast path: cached token, ns/call (median of {FastRounds} x {FastCalls:N0}) | {fastOff.Ns:0.00} | {fastOn.Ns:0.00} | {fastOn.Ns / fastOff.Ns:0.00} |"));
        Console.WriteLine(FormattableString.Invariant($"| fast path: bytes allocated/call | {fastOff.Bytes:0.###} | {fastOn.Bytes:0.###} | — |"));
        Console.WriteLine(FormattableString.Invariant($"| cold acquisition, µs (median / p90 of {ColdRounds}): exchange over a {Hop.TotalMilliseconds:0} ms hop vs adopt (1 Redis read) | {exchange.MedianUs:0} / {exchange.P90Us:0} | {adopt.MedianUs:0} / {adopt.P90Us:0} | {exchange.MedianUs / adopt.MedianUs:0.0}x faster |"));
        Console.WriteLine(FormattableString.Invariant($"| token requests during the cold rounds | {exchangeExchanges} | {adoptExchanges} | — |"));
        return adoptExchanges == 0 ? 0 : 1;
    }

    private static (double Ns, double Bytes) FastPath(AuthCoordinator<TokenContainer> coordinator)
    {
        for (var i = 0; i < FastCalls; i++)
        {
            _ = coordinator.GetAsync().Result;
        }

        var ns = new List<double>();
        var bytes = new List<double>();
        for (var round = 0; round < FastRounds; round++)
        {
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < FastCalls; i++)
            {
                _ = coordinator.GetAsync().Result;
            }

            watch.Stop();
            bytes.Add((GC.GetAllocatedBytesForCurrentThread() - allocated) / (double)FastCalls);
            ns.Add(watch.Elapsed.TotalNanoseconds / FastCalls);
        }

        return (ns.Order().ElementAt(ns.Count / 2), bytes.Order().ElementAt(bytes.Count / 2));
    }

    private static async Task<(double MedianUs, double P90Us)> ColdAsync(
        Func<Func<AcquisitionContext<TokenContainer>, CancellationToken, Task<TokenContainer>>> acquisition)
    {
        var samples = new List<double>();
        for (var i = 0; i < ColdRounds + 20; i++)
        {
            using var coordinator = new AuthCoordinator<TokenContainer>(acquisition(), static t => t.ExpiresAt);
            var watch = Stopwatch.StartNew();
            await coordinator.GetAsync().ConfigureAwait(false);
            if (i >= 20)
            {
                samples.Add(watch.Elapsed.TotalMicroseconds);
            }
        }

        var sorted = samples.Order().ToList();
        return (sorted[sorted.Count / 2], sorted[sorted.Count * 9 / 10]);
    }

    /// <summary>A token endpoint one network hop away: waits the hop, then answers a client-credentials token with a refresh token.</summary>
    private sealed class SimulatedTokenEndpoint(TimeSpan hop) : HttpMessageHandler
    {
        private long _issued;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(hop, cancellationToken).ConfigureAwait(false);
            var n = Interlocked.Increment(ref _issued).ToString(CultureInfo.InvariantCulture);
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent($$"""{"access_token":"at-{{n}}","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-{{n}}"}""", Encoding.UTF8, "application/json"),
            };
        }
    }

    /// <summary>A throwaway redis-server on a free loopback port (no persistence), killed at the end. Also used by <c>replicas</c>.</summary>
    internal sealed class PrivateRedis : IAsyncDisposable
    {
        private readonly Process _process;

        private PrivateRedis(Process process, int port)
        {
            _process = process;
            Port = port;
            Endpoint = "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
        }

        public string Endpoint { get; }

        public int Port { get; }

        public static async Task<PrivateRedis> StartAsync()
        {
            var executable = new[] { "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin" }
                .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                .Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("redis-server was not found on PATH (apt-get install -y redis-server).");
            int port;
            using (var listener = new TcpListener(IPAddress.Loopback, 0))
            {
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }

            var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                    return new PrivateRedis(process, port);
                }
                catch (SocketException) when (attempt < 200)
                {
                    await Task.Delay(50).ConfigureAwait(false);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
            _process.Dispose();
        }
    }
}
