using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LockFree.Auth.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// <c>-- replicas</c> (issue 13, spec/distributed.md "Cost"): K in-process replicas of one client, each with its own
/// <see cref="ConnectionMultiplexer"/>, <see cref="RedisSharedTokenStore"/>, <see cref="SharedTokenAcquisition"/> and
/// <see cref="AuthCoordinator{T}"/> (with the store), or only its own coordinator over the plain exchange (without),
/// each with C concurrent callers, against one token endpoint with rotating refresh tokens and reuse detection. One
/// <see cref="FakeTimeProvider"/> is every replica's clock (synchronised clocks): each expiry is one jump of it past
/// the tokens' usable time, then every caller of every replica asks for a token at once. Per expiry: token requests at
/// the endpoint, real time from the jump until every replica holds the new token, Redis commands from
/// <c>INFO commandstats</c> deltas of the private <c>redis-server</c>.
/// </summary>
internal static class ReplicaBenchmarks
{
    /// <summary>Token lifetime (expires_in); each expiry advances the shared clock by this much (past UsableUntil = E − 30 s).</summary>
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    /// <summary>A storm not finished after this long fails the run (a lost wake-up would otherwise hang it).</summary>
    private static readonly TimeSpan StormCap = TimeSpan.FromSeconds(30);

    private const int WarmUpExpiries = 3;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = ReplicaOptions.Parse(args);
        var loadStart = LoadAverage();
        var started = DateTime.UtcNow;
        await using var redisServer = await SharedTokenBenchmarks.PrivateRedis.StartAsync().ConfigureAwait(false);
        using var stats = await CommandStats.ConnectAsync(redisServer.Port).ConfigureAwait(false);

        var failure = await SelfCheckAsync(redisServer, stats).ConfigureAwait(false);
        if (failure is not null)
        {
            Console.Error.WriteLine("Self-check of the counting failed: " + failure);
            return 1;
        }

        var cells = new List<CellResult>();
        foreach (var k in options.Replicas)
        {
            foreach (var shared in new[] { false, true })
            {
                var cell = await RunCellAsync(redisServer, stats, k, shared, options).ConfigureAwait(false);
                Console.Error.WriteLine(FormattableString.Invariant(
                    $"K={k} store={(shared ? "on" : "off")}: {cell.Exchanges.Average():0.00} exchanges/expiry, p50 {Percentile(cell.HoldsMs, 0.5):0.00} ms"));
                cells.Add(cell);
            }
        }

        Console.WriteLine(Format(cells, options, started, loadStart, LoadAverage()));
        return cells.All(c => c.Failed == 0 && c.Reuses == 0 && c.StaleServed == 0) ? 0 : 1;
    }

    private static async Task<CellResult> RunCellAsync(SharedTokenBenchmarks.PrivateRedis redisServer, CommandStats stats, int k, bool shared, ReplicaOptions options)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.Zero));
        using var endpoint = new RotatingTokenEndpoint(TimeSpan.FromMilliseconds(options.HopMs), Lifetime);
        var ops = new StoreOps();
        var key = "replicas-" + k.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N");
        var protector = new AesGcmSharedTokenProtector(RandomNumberGenerator.GetBytes(32));
        var replicas = new List<Replica>();
        try
        {
            for (var i = 0; i < k; i++)
            {
                replicas.Add(await Replica.CreateAsync(i, shared ? redisServer.Endpoint : null, key, protector, endpoint, time, ops).ConfigureAwait(false));
            }

            // Cold start (every replica has nothing yet), then warm-up expiries: none of them is recorded.
            var cold = await StormAsync(replicas, options.Callers, advance: null, time).ConfigureAwait(false);
            var coldExchanges = endpoint.Requests;
            for (var i = 0; i < WarmUpExpiries; i++)
            {
                await StormAsync(replicas, options.Callers, Lifetime, time).ConfigureAwait(false);
            }

            var result = new CellResult(k, shared, coldExchanges, cold.Distinct);
            var reusesBefore = endpoint.Reuses;
            for (var i = 0; i < options.Expiries; i++)
            {
                var statsBefore = await stats.ReadAsync().ConfigureAwait(false);
                var opsBefore = ops.Snapshot();
                var requestsBefore = endpoint.Requests;
                var storm = await StormAsync(replicas, options.Callers, Lifetime, time).ConfigureAwait(false);
                var delta = CommandStats.Delta(statsBefore, await stats.ReadAsync().ConfigureAwait(false));
                result.Exchanges.Add(endpoint.Requests - requestsBefore);
                result.HoldsMs.Add(storm.HoldsMs);
                result.ServedMs.Add(storm.ServedMs);
                result.Distinct.Add(storm.Distinct);
                result.ClientCommands.Add(CommandStats.Client(delta));
                result.ScriptCommands.Add(CommandStats.InsideScripts(delta));
                result.OtherCommands.Add(CommandStats.Other(delta));
                foreach (var (command, calls) in CommandStats.OtherByName(delta))
                {
                    result.OtherByName[command] = result.OtherByName.GetValueOrDefault(command) + calls;
                }
                result.StoreRoundTrips.Add(ops.Snapshot().RoundTrips - opsBefore.RoundTrips);
                result.Failed += storm.Failed;
                result.StaleServed += storm.StaleServed;
            }

            result.Reuses = endpoint.Reuses - reusesBefore;
            result.Ops = ops.Snapshot();
            return result;
        }
        finally
        {
            foreach (var replica in replicas)
            {
                await replica.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// One expiry: jumps the shared clock (the coordinators' timers retire the tokens inside the jump), then
    /// <paramref name="callers"/> pool work items per replica each call <c>GetAsync</c> once.
    /// </summary>
    private static async Task<StormOutcome> StormAsync(List<Replica> replicas, int callers, TimeSpan? advance, FakeTimeProvider time)
    {
        var old = new string?[replicas.Count];
        if (advance is not null)
        {
            for (var r = 0; r < replicas.Count; r++)
            {
                // A cached token: the fast path, no I/O.
                old[r] = (await replicas[r].Coordinator.GetAsync().ConfigureAwait(false)).AccessToken;
            }
        }

        var start = Stopwatch.GetTimestamp();
        if (advance is { } jump)
        {
            time.Advance(jump);
        }

        var calls = new List<Task<(int Replica, string? Token, long At)>>(replicas.Count * callers);
        foreach (var replica in replicas)
        {
            for (var c = 0; c < callers; c++)
            {
                calls.Add(Task.Run(async () =>
                {
                    try
                    {
                        var token = await replica.Coordinator.GetAsync().ConfigureAwait(false);
                        return (replica.Index, (string?)token.AccessToken, Stopwatch.GetTimestamp());
                    }
                    catch (Exception exception) when (exception is not OperationCanceledException)
                    {
                        return (replica.Index, (string?)null, Stopwatch.GetTimestamp());
                    }
                }));
            }
        }

        try
        {
            await Task.WhenAll(calls).WaitAsync(StormCap).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(FormattableString.Invariant(
                $"An expiry storm of {replicas.Count} replicas x {callers} callers did not finish within {StormCap.TotalSeconds} s ({calls.Count(t => !t.IsCompleted)} callers waiting)."));
        }

        var results = calls.Select(t => t.Result).ToList();
        var failed = results.Count(r => r.Token is null);
        var staleServed = results.Count(r => r.Token is not null && r.Token == old[r.Replica]);
        var fresh = results.Where(r => r.Token is not null && r.Token != old[r.Replica]).ToList();

        // A replica holds the new token when its first caller received it; every replica: the latest of those.
        var holds = fresh.GroupBy(r => r.Replica).Select(g => g.Min(r => r.At)).DefaultIfEmpty(start).Max();
        var served = results.Max(r => r.At);
        return new StormOutcome(
            Stopwatch.GetElapsedTime(start, holds).TotalMilliseconds,
            Stopwatch.GetElapsedTime(start, served).TotalMilliseconds,
            fresh.Select(r => r.Token).Distinct(StringComparer.Ordinal).Count(),
            failed,
            staleServed);
    }

    /// <summary>
    /// Checks the counting before anything is measured, so a wrong classification fails the run instead of printing
    /// wrong numbers: (1) a known sequence of store calls (2 reads, 1 lease, 1 publication) must show in
    /// <c>INFO commandstats</c> as exactly 4 commands sent by the client and 9 run inside the Lua scripts (lease: HGET,
    /// GET, SET; publish: HGET, HSET, PEXPIRE, GET, DEL, PUBLISH), and in the counting wrapper as 4 round trips;
    /// (2) the token endpoint must count a refresh token presented twice as one reuse and answer it invalid_grant.
    /// </summary>
    /// <returns>Null when both hold, else what differed.</returns>
    internal static async Task<string?> SelfCheckAsync(SharedTokenBenchmarks.PrivateRedis redisServer, CommandStats stats)
    {
        await using var redis = await ConnectAsync(redisServer.Endpoint, "self-check").ConfigureAwait(false);
        await using var inner = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = "bench-check" });
        var ops = new StoreOps();
        var store = new CountingStore(inner, ops);
        var value = new SharedTokenValue(new byte[] { 1, 2, 3 }, "fingerprint", DateTimeOffset.UnixEpoch.AddDays(30_000));

        // Once unmeasured: the client may load the scripts (SCRIPT LOAD / EVAL) the first time.
        for (var round = 0; round < 2; round++)
        {
            var key = "check-" + round.ToString(CultureInfo.InvariantCulture);
            var before = await stats.ReadAsync().ConfigureAwait(false);
            var opsBefore = ops.Snapshot();
            _ = await store.ReadAsync(key, CancellationToken.None).ConfigureAwait(false);
            _ = await store.ReadAsync(key, CancellationToken.None).ConfigureAwait(false);
            var lease = await store.TryAcquireLeaseAsync(key, 0, "holder", TimeSpan.FromSeconds(30), CancellationToken.None).ConfigureAwait(false);
            var published = await store.PublishAsync(key, lease, value, CancellationToken.None).ConfigureAwait(false);
            var delta = CommandStats.Delta(before, await stats.ReadAsync().ConfigureAwait(false));
            if (round == 0)
            {
                continue;
            }

            var roundTrips = ops.Snapshot().RoundTrips - opsBefore.RoundTrips;
            if (lease.Status != SharedLeaseStatus.Granted || !published.IsPublished)
            {
                return $"the known sequence did not run as planned (lease {lease.Status}, published {published.IsPublished}).";
            }

            if (CommandStats.Client(delta) != 4 || CommandStats.InsideScripts(delta) != 9 || roundTrips != 4)
            {
                return FormattableString.Invariant(
                    $"expected 4 client commands, 9 inside scripts and 4 store round trips; INFO commandstats showed {CommandStats.Client(delta)} and {CommandStats.InsideScripts(delta)} ({string.Join(", ", delta.Select(d => d.Key + "=" + d.Value))}), the wrapper {roundTrips}.");
            }
        }

        using var endpoint = new RotatingTokenEndpoint(TimeSpan.Zero, Lifetime);
        using var http = new HttpClient(endpoint, disposeHandler: false);
        var first = await RequestAsync(http, null).ConfigureAwait(false);
        var second = await RequestAsync(http, first.RefreshToken).ConfigureAwait(false);
        var reused = await RequestAsync(http, first.RefreshToken).ConfigureAwait(false);
        if (first.Status != HttpStatusCode.OK || second.Status != HttpStatusCode.OK || reused.Status != HttpStatusCode.BadRequest
            || endpoint.Reuses != 1 || endpoint.Requests != 3)
        {
            return FormattableString.Invariant(
                $"the token endpoint counted {endpoint.Requests} requests and {endpoint.Reuses} reuses (expected 3 and 1); statuses {first.Status}, {second.Status}, {reused.Status}.");
        }

        return null;

        static async Task<(HttpStatusCode Status, string? RefreshToken)> RequestAsync(HttpClient http, string? refreshToken)
        {
            using var response = await http.PostAsync(RotatingTokenEndpoint.Address, Form(refreshToken)).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (response.StatusCode, null);
            }

            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
            return (response.StatusCode, json.RootElement.GetProperty("refresh_token").GetString());
        }
    }

    internal static FormUrlEncodedContent Form(string? refreshToken) => new(refreshToken is null
        ? [KeyValuePair.Create("grant_type", "client_credentials")]
        : [KeyValuePair.Create("grant_type", "refresh_token"), KeyValuePair.Create("refresh_token", refreshToken)]);

    internal static Task<ConnectionMultiplexer> ConnectAsync(string endpoint, string name) => ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
    {
        EndPoints = { endpoint },
        AbortOnConnectFail = false,
        BacklogPolicy = BacklogPolicy.FailFast,
        ClientName = name,
    });

    /// <summary>Nearest-rank percentile (p99 of 100 samples is the 99th smallest).</summary>
    internal static double Percentile(IReadOnlyList<double> samples, double p)
    {
        var sorted = samples.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static string Format(List<CellResult> cells, ReplicaOptions options, DateTime started, string loadStart, string loadEnd)
    {
        static string Range(List<long> values) => values.Min() == values.Max()
            ? values.Min().ToString(CultureInfo.InvariantCulture)
            : FormattableString.Invariant($"{values.Average():0.00} ({values.Min()}–{values.Max()})");

        var text = new StringBuilder();
        text.AppendLine(FormattableString.Invariant(
            $"Replicas sharing one token (issue 13), {started:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}; load average (1/5/15 min) {loadStart} at the start, {loadEnd} at the end."));
        text.AppendLine(FormattableString.Invariant(
            $"{options.Callers} callers per replica, {options.Expiries} measured expiries per cell (after {WarmUpExpiries} unmeasured), token endpoint hop {options.HopMs} ms, Redis on loopback."));
        text.AppendLine();
        text.AppendLine("| K | store | exchanges per expiry | every replica holds the new token, p50 / p99 / max ms | every caller served, p50 / p99 ms | distinct new tokens per expiry | Redis commands per expiry: sent / run inside scripts / other | store calls per expiry | reuses | failed calls | cold start: exchanges (distinct tokens) |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var c in cells)
        {
            text.AppendLine(FormattableString.Invariant(
                $"| {c.K} | {(c.Shared ? "on" : "off")} | {Range(c.Exchanges)} | {Percentile(c.HoldsMs, 0.5):0.00} / {Percentile(c.HoldsMs, 0.99):0.00} / {c.HoldsMs.Max():0.00} | {Percentile(c.ServedMs, 0.5):0.00} / {Percentile(c.ServedMs, 0.99):0.00} | {Range(c.Distinct)} | {c.ClientCommands.Average():0.00} / {c.ScriptCommands.Average():0.00} / {c.OtherCommands.Sum()} | {c.StoreRoundTrips.Average():0.00} | {c.Reuses} | {c.Failed} | {c.ColdExchanges} ({c.ColdDistinct}) |"));
        }

        text.AppendLine();
        text.AppendLine("| K | exchanges per expiry, on ÷ off | holds p50, on ÷ off | holds p99, on ÷ off | Redis commands per expiry (sent + inside scripts) | \"other\" commands (whole cell, on) | store calls by kind (on; with the cold start and the warm-up expiries) |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var group in cells.GroupBy(c => c.K))
        {
            var off = group.Single(c => !c.Shared);
            var on = group.Single(c => c.Shared);
            text.AppendLine(FormattableString.Invariant(
                $"| {group.Key} | {on.Exchanges.Average() / off.Exchanges.Average():0.00} | {Percentile(on.HoldsMs, 0.5) / Percentile(off.HoldsMs, 0.5):0.00} | {Percentile(on.HoldsMs, 0.99) / Percentile(off.HoldsMs, 0.99):0.00} | {on.ClientCommands.Average() + on.ScriptCommands.Average():0.00} | {(on.OtherByName.Count == 0 ? "none" : string.Join(", ", on.OtherByName.Select(o => o.Key + " " + o.Value)))} | {on.Ops} |"));
        }

        return text.ToString();
    }

    private sealed record StormOutcome(double HoldsMs, double ServedMs, int Distinct, int Failed, int StaleServed);

    private sealed class CellResult(int k, bool shared, long coldExchanges, int coldDistinct)
    {
        public int K { get; } = k;

        public bool Shared { get; } = shared;

        public long ColdExchanges { get; } = coldExchanges;

        public int ColdDistinct { get; } = coldDistinct;

        public List<long> Exchanges { get; } = [];

        public List<double> HoldsMs { get; } = [];

        public List<double> ServedMs { get; } = [];

        public List<long> Distinct { get; } = [];

        public List<long> ClientCommands { get; } = [];

        public List<long> ScriptCommands { get; } = [];

        public List<long> OtherCommands { get; } = [];

        public List<long> StoreRoundTrips { get; } = [];

        public SortedDictionary<string, long> OtherByName { get; } = new(StringComparer.Ordinal);

        public long Reuses { get; set; }

        public int Failed { get; set; }

        public int StaleServed { get; set; }

        public StoreOpsSnapshot Ops { get; set; } = new(0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    /// <summary>One replica: its own connection, store, acquisition, coordinator and HttpClient (the endpoint is the one server).</summary>
    private sealed class Replica : IAsyncDisposable
    {
        private ConnectionMultiplexer? _redis;
        private RedisSharedTokenStore? _store;
        private HttpClient? _http;

        public int Index { get; private init; }

        public AuthCoordinator<TokenContainer> Coordinator { get; private set; } = null!;

        public static async Task<Replica> CreateAsync(
            int index, string? redisEndpoint, string key, ISharedTokenProtector protector, RotatingTokenEndpoint endpoint, FakeTimeProvider time, StoreOps ops)
        {
            var replica = new Replica { Index = index, _http = new HttpClient(endpoint, disposeHandler: false) };
            var http = replica._http;
            async Task<TokenContainer> ExchangeAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
            {
                using var response = await http.PostAsync(RotatingTokenEndpoint.Address, Form(context.Previous?.RefreshToken), cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"The token endpoint answered {(int)response.StatusCode}.");
                }

                using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
                return new TokenContainer
                {
                    AccessToken = json.RootElement.GetProperty("access_token").GetString()!,
                    RefreshToken = json.RootElement.GetProperty("refresh_token").GetString(),
                    ExpiresIn = TimeSpan.FromSeconds(json.RootElement.GetProperty("expires_in").GetInt32()),
                    ObtainedAt = time.GetUtcNow(),
                };
            }

            Func<AcquisitionContext<TokenContainer>, CancellationToken, Task<TokenContainer>> acquire = ExchangeAsync;
            if (redisEndpoint is not null)
            {
                replica._redis = await ConnectAsync(redisEndpoint, "replica-" + index.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);

                // The store's bounded waits run on the real clock (a lost notification is re-read after 2 s); adoption
                // decisions on the shared fake clock, the one the tokens' lifetimes are measured on.
                replica._store = new RedisSharedTokenStore(replica._redis, new RedisSharedTokenStoreOptions { KeyPrefix = "bench-replicas" });
                var sharing = new SharedTokenAcquisition(
                    new CountingStore(replica._store, ops), key, ExchangeAsync, new SharedTokenOptions { Protector = protector }, time);
                acquire = sharing.AcquireAsync;
            }

            replica.Coordinator = new AuthCoordinator<TokenContainer>(acquire, static t => t.ExpiresAt, time);
            return replica;
        }

        public async ValueTask DisposeAsync()
        {
            Coordinator?.Dispose();
            if (_store is not null)
            {
                await _store.DisposeAsync().ConfigureAwait(false);
            }

            if (_redis is not null)
            {
                await _redis.DisposeAsync().ConfigureAwait(false);
            }

            _http?.Dispose();
        }
    }
}

/// <summary>Command-line options of <c>replicas</c>.</summary>
internal sealed class ReplicaOptions
{
    public int[] Replicas { get; private set; } = [1, 2, 4];

    public int Callers { get; private set; } = 16;

    public int Expiries { get; private set; } = 100;

    public int HopMs { get; private set; } = 5;

    public static ReplicaOptions Parse(string[] args)
    {
        var o = new ReplicaOptions();
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--replicas": o.Replicas = [.. args[++i].Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture))]; break;
                case "--callers": o.Callers = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--expiries": o.Expiries = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--hop": o.HopMs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"Unknown option '{args[i]}' for replicas (--replicas 1,2,4 --callers 16 --expiries 100 --hop 5).");
            }
        }

        return o;
    }
}

/// <summary>
/// A token endpoint one hop away with rotating refresh tokens: every successful refresh spends the presented refresh
/// token and issues a new one; a spent one presented again is a reuse (counted, answered <c>invalid_grant</c>).
/// </summary>
internal sealed class RotatingTokenEndpoint(TimeSpan hop, TimeSpan lifetime) : HttpMessageHandler
{
    public static readonly Uri Address = new("https://as.example/token");

    // refresh token -> 0 current, 1 spent; a refresh spends it with one compare-and-swap.
    private readonly ConcurrentDictionary<string, int> _refreshTokens = new(StringComparer.Ordinal);
    private long _issued;
    private long _requests;
    private long _reuses;

    /// <summary>Token requests received (every grant, successful or not): the exchanges.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Refresh tokens presented after they were spent.</summary>
    public long Reuses => Interlocked.Read(ref _reuses);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _requests);
        var form = (await request.Content!.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))
            .Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p[1]), StringComparer.Ordinal);
        if (hop > TimeSpan.Zero)
        {
            await Task.Delay(hop, cancellationToken).ConfigureAwait(false);
        }

        if (form["grant_type"] == "refresh_token")
        {
            var presented = form["refresh_token"];
            if (!_refreshTokens.TryUpdate(presented, 1, 0))
            {
                if (_refreshTokens.ContainsKey(presented))
                {
                    Interlocked.Increment(ref _reuses);
                }

                return new HttpResponseMessage(HttpStatusCode.BadRequest)
                {
                    Content = new StringContent("""{"error":"invalid_grant"}""", Encoding.UTF8, "application/json"),
                };
            }
        }

        var n = Interlocked.Increment(ref _issued).ToString(CultureInfo.InvariantCulture);
        _refreshTokens[$"rt-{n}"] = 0;
        var expiresIn = ((long)lifetime.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        return new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent($$"""{"access_token":"at-{{n}}","token_type":"Bearer","expires_in":{{expiresIn}},"refresh_token":"rt-{{n}}"}""", Encoding.UTF8, "application/json"),
        };
    }
}

/// <summary>Counts of store calls (each one Redis round trip, a wait one read plus the subscription the first time).</summary>
internal sealed record StoreOpsSnapshot(long Reads, long Granted, long Held, long Stale, long Publishes, long Releases, long Invalidations, long Waits, long Superseded)
{
    public long RoundTrips => Reads + Granted + Held + Stale + Publishes + Releases + Invalidations + Waits;

    public override string ToString() => FormattableString.Invariant(
        $"read {Reads}, lease granted {Granted} / held {Held} / stale {Stale}, publish {Publishes} (superseded {Superseded}), wait {Waits}, release {Releases}");
}

/// <summary>The counters of <see cref="CountingStore"/>, shared by the replicas of one cell.</summary>
internal sealed class StoreOps
{
    public long Reads;
    public long Granted;
    public long Held;
    public long Stale;
    public long Publishes;
    public long Superseded;
    public long Releases;
    public long Invalidations;
    public long Waits;

    public StoreOpsSnapshot Snapshot() => new(
        Interlocked.Read(ref Reads), Interlocked.Read(ref Granted), Interlocked.Read(ref Held), Interlocked.Read(ref Stale),
        Interlocked.Read(ref Publishes), Interlocked.Read(ref Releases), Interlocked.Read(ref Invalidations), Interlocked.Read(ref Waits),
        Interlocked.Read(ref Superseded));
}

/// <summary>Passes every call to the real store and counts it.</summary>
internal sealed class CountingStore(ISharedTokenStore inner, StoreOps ops) : ISharedTokenStore
{
    public ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref ops.Reads);
        return inner.ReadAsync(key, cancellationToken);
    }

    public async ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        var lease = await inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken).ConfigureAwait(false);
        _ = lease.Status switch
        {
            SharedLeaseStatus.Granted => Interlocked.Increment(ref ops.Granted),
            SharedLeaseStatus.Held => Interlocked.Increment(ref ops.Held),
            _ => Interlocked.Increment(ref ops.Stale),
        };
        return lease;
    }

    public async ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken)
    {
        var result = await inner.PublishAsync(key, lease, value, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref ops.Publishes);
        if (!result.IsPublished)
        {
            Interlocked.Increment(ref ops.Superseded);
        }

        return result;
    }

    public ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref ops.Releases);
        return inner.ReleaseLeaseAsync(key, lease, cancellationToken);
    }

    public ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref ops.Invalidations);
        return inner.InvalidateIfAsync(key, fingerprint, cancellationToken);
    }

    public ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref ops.Waits);
        return inner.WaitForChangeAsync(key, knownVersion, bound, cancellationToken);
    }
}

/// <summary>
/// <c>INFO commandstats</c> of the private server over its own plain RESP connection (one <c>INFO</c> per probe, which
/// the deltas leave out). Redis counts the commands a Lua script runs (<c>redis.call</c>) besides the script's own
/// <c>EVALSHA</c>; the store's scripts use HGET, GET, PTTL, SET, HSET, PEXPIRE, DEL, PUBLISH and the store never sends
/// those itself (its reads are HMGET), so they are counted as "inside scripts".
/// </summary>
internal sealed class CommandStats : IDisposable
{
    private static readonly byte[] s_info = "*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n"u8.ToArray();
    private static readonly HashSet<string> s_insideScripts = new(["hget", "get", "pttl", "set", "hset", "pexpire", "del", "publish"], StringComparer.Ordinal);
    private static readonly HashSet<string> s_sentByStore = new(["hmget", "evalsha", "eval", "subscribe"], StringComparer.Ordinal);

    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private CommandStats(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<CommandStats> ConnectAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
        return new CommandStats(client);
    }

    /// <summary>Calls per command since the server started.</summary>
    public async Task<Dictionary<string, long>> ReadAsync()
    {
        await _stream.WriteAsync(s_info).ConfigureAwait(false);
        var header = await ReadLineAsync().ConfigureAwait(false);
        if (!header.StartsWith('$'))
        {
            throw new InvalidOperationException("Unexpected INFO reply: " + header);
        }

        var body = new byte[int.Parse(header.AsSpan(1), CultureInfo.InvariantCulture) + 2];
        await _stream.ReadExactlyAsync(body).ConfigureAwait(false);
        return Parse(Encoding.ASCII.GetString(body, 0, body.Length - 2));
    }

    /// <summary>Parses <c>cmdstat_&lt;name&gt;:calls=N,…</c> lines.</summary>
    internal static Dictionary<string, long> Parse(string info)
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in info.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!line.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = line[(colon + 1)..].Split(',').First(f => f.StartsWith("calls=", StringComparison.Ordinal));
            calls[line["cmdstat_".Length..colon]] = long.Parse(field["calls=".Length..], CultureInfo.InvariantCulture);
        }

        return calls;
    }

    /// <summary>Calls between two probes, without the probe's own <c>INFO</c>.</summary>
    internal static Dictionary<string, long> Delta(Dictionary<string, long> before, Dictionary<string, long> after) => after
        .Where(a => a.Key != "info")
        .Select(a => KeyValuePair.Create(a.Key, a.Value - before.GetValueOrDefault(a.Key)))
        .Where(d => d.Value != 0)
        .ToDictionary(StringComparer.Ordinal);

    /// <summary>Commands the replicas' stores sent (one round trip each).</summary>
    internal static long Client(Dictionary<string, long> delta) => delta.Where(d => s_sentByStore.Contains(d.Key)).Sum(d => d.Value);

    /// <summary>Commands Redis ran inside the stores' Lua scripts.</summary>
    internal static long InsideScripts(Dictionary<string, long> delta) => delta.Where(d => s_insideScripts.Contains(d.Key)).Sum(d => d.Value);

    /// <summary>Everything else by name (connection upkeep such as PING, SCRIPT LOAD).</summary>
    internal static IEnumerable<(string Command, long Calls)> OtherByName(Dictionary<string, long> delta) =>
        delta.Where(d => !s_sentByStore.Contains(d.Key) && !s_insideScripts.Contains(d.Key)).Select(d => (d.Key, d.Value));

    /// <summary>Everything else (connection upkeep such as PING, SCRIPT LOAD).</summary>
    internal static long Other(Dictionary<string, long> delta) => delta.Where(d => !s_sentByStore.Contains(d.Key) && !s_insideScripts.Contains(d.Key)).Sum(d => d.Value);

    public void Dispose()
    {
        _stream.Dispose();
        _client.Dispose();
    }

    private async Task<string> ReadLineAsync()
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            await _stream.ReadExactlyAsync(one).ConfigureAwait(false);
            if (one[0] == '\n' && line.Length > 0 && line[^1] == '\r')
            {
                return line.ToString(0, line.Length - 1);
            }

            line.Append((char)one[0]);
        }
    }
}
