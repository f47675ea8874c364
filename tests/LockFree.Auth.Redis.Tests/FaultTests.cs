using System.Globalization;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// Multi-process fault tests of issue 13 (spec/distributed.md, "Fault tests"): 3 replica processes
/// (tests/LockFree.Auth.ReplicaHost) × 32 callers of one client-credentials client, 2-second tokens with rotating
/// refresh tokens and family-revoking reuse detection (<see cref="RotatingAuthorizationServer"/>), each test with its
/// own redis-server, and one fault each: the lease holder SIGKILLed mid-exchange, Redis restarted, one replica cut off
/// from Redis by a blackholing proxy, clocks ±5 s apart. Each prints a table of its counts (also the failure message)
/// and every wait is bounded.
/// </summary>
[Collection(MultiProcessGroup.Name)]
public sealed class FaultTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Callers = 32;
    private const int LifetimeSeconds = 2;

    // As in MultiProcessTests: skew 10 % and refresh-ahead 20 % of a 2 s token, so one client exchanges about every 1.4 s.
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(LifetimeSeconds * (1 - 0.1 - 0.2));
    private static readonly TimeSpan ResultBound = TimeSpan.FromSeconds(40);

    // Each replica's upper bound; a run normally ends earlier, when the scenario is done (ReplicaProcess.Stop).
    private static readonly TimeSpan MaxRun = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task LeaseHolderKilledMidExchange_AnotherReplicaTakesOverWithinTheLeaseTtl_SurvivorsNeverFail()
    {
        // The first refresh is held by the server unprocessed (its refresh token stays unspent); the process that sent
        // it holds the lease; it is SIGKILLed. Another replica must take the lease once it expires (2 s here) and refresh
        // with the same, still valid refresh token: no reuse, no failed call on the survivors (they only wait).
        var leaseTtl = TimeSpan.FromSeconds(2);
        await using var redis = await RedisServer.StartAsync();
        await using var server = await RotatingAuthorizationServer.StartAsync(LifetimeSeconds, stallFirstRefresh: true);
        var run = new FaultRun(server, output, "kill -9 of the lease holder");
        using var replicas = run.Start(3, MaxRun, i => ("r" + i, redis.Endpoint, ["--lease-seconds", "2"]));

        var stalled = await server.Stalled.Within(TimeSpan.FromSeconds(25));
        var holder = replicas.SingleOrDefault(r => r.Pid == stalled.Pid)
            ?? throw new Xunit.Sdk.XunitException($"The stalled refresh came from pid {stalled.Pid}, not one of the replicas ({string.Join(", ", replicas.Select(r => r.Pid))}).");
        holder.Kill();
        await holder.ExitedAsync(TimeSpan.FromSeconds(10));
        await run.UntilAsync(() => server.Log.Any(e => e.Issued && e.Grant == "refresh_token" && e.At > stalled.At), TimeSpan.FromSeconds(15), "a refresh after the holder was killed");
        await Task.Delay(TimeSpan.FromSeconds(2)); // the survivors go on sharing
        var table = await run.FinishAsync(replicas);

        var takeover = server.Log.FirstOrDefault(e => e.Issued && e.Grant == "refresh_token" && e.At > stalled.At);
        var delay = takeover is null ? (TimeSpan?)null : takeover.At - stalled.At;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"holder pid {holder.Pid} ({holder.Name}) stalled at {stalled.At.TotalSeconds:0.00} s and was killed; takeover: {(takeover is null ? "none" : $"pid {takeover.Pid} after {delay!.Value.TotalSeconds:0.00} s")} (lease TTL {leaseTtl.TotalSeconds:0} s)");
        output.WriteLine(line);
        table += Environment.NewLine + line;

        Assert.True(takeover is not null, "No replica refreshed after the holder was killed." + Environment.NewLine + table);
        Assert.NotEqual(holder.Pid, takeover!.Pid);
        Assert.True(delay <= leaseTtl + TimeSpan.FromSeconds(2), $"The takeover took {delay}; bound: the lease TTL {leaseTtl} + 2 s." + Environment.NewLine + table);
        run.AssertNoReuseAndNoFailure(table);
    }

    [Fact]
    public async Task RedisRestartedMidRun_ReplicasDegradeAndRecover_NoRefreshTokenFamilyIsRevoked()
    {
        // Redis is killed (no persistence: the record is lost) after the chain is shared, and started again 2.5 s later
        // on the same port. Meanwhile every replica needs a new token (2 s tokens): Degrade exchanges per process, and
        // never with the shared refresh token (R29), so nobody presents it twice; after the restart the multiplexers
        // reconnect by themselves and the replicas share one chain again.
        await using var redis = await RedisServer.StartAsync();
        await using var server = await RotatingAuthorizationServer.StartAsync(LifetimeSeconds);
        var prefix = "faults:" + Guid.NewGuid().ToString("N");
        var run = new FaultRun(server, output, "Redis restarted", prefix);
        using var replicas = run.Start(3, MaxRun, i => ("r" + i, redis.Endpoint, []));

        await run.QuietAfterASharedRefreshAsync();
        var stoppedAt = server.Now;
        await redis.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        await redis.RestartAsync();
        var restartedAt = server.Now;
        await Task.Delay(TimeSpan.FromSeconds(4)); // ~3 token lifetimes: every replica needs the store again
        var table = await run.FinishAsync(replicas);

        await using var check = await redis.ConnectAsync();
        var records = check.GetServer(redis.Endpoint).Keys(pattern: prefix + ":*record").Count();
        var during = server.Log.Count(e => e.Issued && e.At >= stoppedAt && e.At < restartedAt);
        var after = server.Log.Where(e => e.Issued && e.At >= restartedAt + TimeSpan.FromSeconds(1)).ToList();
        var afterWindow = run.End - (restartedAt + TimeSpan.FromSeconds(1));
        var afterIdeal = 1 + (int)Math.Ceiling(afterWindow / RefreshInterval);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"outage {stoppedAt.TotalSeconds:0.0}-{restartedAt.TotalSeconds:0.0} s: {during} exchanges during it; from 1 s after the restart ({afterWindow.TotalSeconds:0.0} s): {after.Count} exchanges (ideal {afterIdeal}); records in the restarted Redis: {records}");
        output.WriteLine(line);
        table += Environment.NewLine + line;

        run.AssertNoReuseAndNoFailure(table);
        foreach (var r in run.Results)
        {
            Assert.True(Event(r, 5005) >= 1, $"replica {Name(r)} never saw the store unavailable (5005)." + Environment.NewLine + table);
            Assert.True(Event(r, 5006) >= 1, $"replica {Name(r)} never recovered (5006)." + Environment.NewLine + table);
        }

        Assert.True(records >= 1, "No record in the restarted Redis: the replicas did not share again." + Environment.NewLine + table);
        Assert.True(after.Count <= afterIdeal + 1, $"after recovery {after.Count} exchanges for an ideal of {afterIdeal}." + Environment.NewLine + table);
    }

    [Fact]
    public async Task OneReplicaCutOffFromRedis_ItDegrades_TheOthersStayAtTheIdealWithoutFailures()
    {
        // The third replica reaches Redis through a proxy that, once the chain is shared, blackholes its traffic (its
        // connection stays open, nothing comes back). It must degrade (timeouts → 5005) without failing calls and
        // without presenting the shared refresh token (R29), so the two others keep sharing one chain undisturbed.
        await using var redis = await RedisServer.StartAsync();
        await using var proxy = BlackholeProxy.Start(redis.Port);
        await using var server = await RotatingAuthorizationServer.StartAsync(LifetimeSeconds);
        var run = new FaultRun(server, output, "one replica cut off from Redis");
        using var replicas = run.Start(3, MaxRun, i => i == 2 ? ("cut-off", proxy.Endpoint, []) : ("r" + i, redis.Endpoint, []));
        var cut = replicas[2];

        await run.QuietAfterASharedRefreshAsync();
        proxy.Blackhole();
        var cutAt = server.Now;
        await Task.Delay(TimeSpan.FromSeconds(5));
        var table = await run.FinishAsync(replicas);

        var others = server.Log.Where(e => e.Issued && e.Pid != cut.Pid).ToList();
        var othersAfter = others.Count(e => e.At >= cutAt);
        var afterIdeal = 1 + (int)Math.Ceiling((run.End - cutAt) / RefreshInterval);
        var cutExchanges = server.Log.Where(e => e.Pid == cut.Pid && e.At >= cutAt).ToList();
        var line = string.Create(CultureInfo.InvariantCulture,
            $"cut at {cutAt.TotalSeconds:0.0} s ({proxy.Dropped} bytes dropped): the others {others.Count} exchanges in all (ideal {run.Ideal}), {othersAfter} after the cut (ideal {afterIdeal}); the cut-off replica after the cut: {cutExchanges.Count} ({string.Join(", ", cutExchanges.Select(e => e.Grant))})");
        output.WriteLine(line);
        table += Environment.NewLine + line;

        run.AssertNoReuseAndNoFailure(table);
        var cutResult = run.Results.Single(r => Name(r) == cut.Name);
        Assert.True(Event(cutResult, 5005) >= 1, "The cut-off replica never degraded (5005)." + Environment.NewLine + table);
        Assert.True(proxy.Dropped > 0, "The cut-off replica sent nothing after the cut: the test did not exercise the partition." + Environment.NewLine + table);
        Assert.True(others.Count <= run.Ideal + 1, $"the others exchanged {others.Count} times for an ideal of {run.Ideal}." + Environment.NewLine + table);
        Assert.True(othersAfter <= afterIdeal, $"after the cut the others exchanged {othersAfter} times for an ideal of {afterIdeal}." + Environment.NewLine + table);
        // Its first degraded exchange withholds the shared refresh token (R29): the configured grant, client credentials.
        Assert.True(cutExchanges.Count >= 1 && cutExchanges[0].Grant == "client_credentials", "The cut-off replica's first exchange after the cut was not the configured grant." + Environment.NewLine + table);
        Assert.True(Event(cutResult, 5011) >= 1, "The cut-off replica never withheld the shared refresh token (5011)." + Environment.NewLine + table);
    }

    [Fact]
    public async Task ReplicaClocksFiveSecondsApart_NoInvalidGrant_NoFailure_ExchangesAsOneClient()
    {
        // Clocks at −5 s, 0 and +5 s (a TimeProvider offset in each process): adoption decisions use each replica's own
        // clock, the lease and the record's TTL the Redis server's. Skew may shift who refreshes first, never make two
        // replicas present one refresh token (the version fences every exchange).
        await using var redis = await RedisServer.StartAsync();
        await using var server = await RotatingAuthorizationServer.StartAsync(LifetimeSeconds);
        var run = new FaultRun(server, output, "clocks -5 s / 0 / +5 s");
        string[] offsets = ["-5", "0", "5"];
        using var replicas = run.Start(3, MaxRun, i => ("clock" + (offsets[i].StartsWith('-') ? "" : "+") + offsets[i] + "s", redis.Endpoint, ["--clock-offset", offsets[i]]));
        await run.UntilAsync(() => server.FirstGrant is not null, TimeSpan.FromSeconds(25), "the first grant");
        await Task.Delay(TimeSpan.FromSeconds(8));
        var table = await run.FinishAsync(replicas);

        run.AssertNoReuseAndNoFailure(table);
        Assert.True(run.Exchanges <= run.Ideal + 2, $"{run.Exchanges} exchanges for an ideal of {run.Ideal} (one client)." + Environment.NewLine + table);
    }

    private static string Name(JsonElement result) => result.GetProperty("replica").GetString()!;

    private static int Event(JsonElement result, int id) =>
        result.GetProperty("events").TryGetProperty(id.ToString(CultureInfo.InvariantCulture), out var count) ? count.GetInt32() : 0;

    /// <summary>One fault run: its replicas, their results and the server's counts, as a table.</summary>
    private sealed class FaultRun(RotatingAuthorizationServer server, Xunit.Abstractions.ITestOutputHelper output, string title, string? prefix = null)
    {
        private readonly string _prefix = prefix ?? "faults:" + Guid.NewGuid().ToString("N");

        public JsonElement[] Results { get; private set; } = [];

        public TimeSpan End { get; private set; }

        public int Ideal { get; private set; }

        public int Exchanges => server.Exchanges;

        public Replicas Start(int count, TimeSpan duration, Func<int, (string Name, string Redis, string[] Extra)> each)
        {
            var replicas = new Replicas();
            for (var i = 0; i < count; i++)
            {
                var (name, redis, extra) = each(i);
                replicas.Add(ReplicaProcess.Start(name, server.BaseUrl, redis, _prefix, Callers, duration, extra));
            }

            return replicas;
        }

        /// <summary>
        /// Waits (bounded) until a refresh was issued (the chain is shared by then) and then 300 ms more: a quiet moment,
        /// ~1 s before the next exchange, so the fault never hits a holder between its exchange and its publication.
        /// </summary>
        public async Task QuietAfterASharedRefreshAsync()
        {
            await UntilAsync(() => server.Log.Any(e => e.Issued && e.Grant == "refresh_token"), TimeSpan.FromSeconds(25), "a refresh");
            await Task.Delay(300);
        }

        /// <summary>Polls <paramref name="condition"/> every 20 ms, at most <paramref name="bound"/>; then fails naming <paramref name="what"/>.</summary>
        public async Task UntilAsync(Func<bool> condition, TimeSpan bound, string what)
        {
            var limit = DateTime.UtcNow + bound;
            while (!condition())
            {
                if (DateTime.UtcNow > limit)
                {
                    throw new HangException($"{title}: no {what} within {bound.TotalSeconds:0} s (server: {server.Exchanges} exchanges, {server.InvalidGrants} invalid_grant).");
                }

                await Task.Delay(20);
            }
        }

        /// <summary>Collects the results of the replicas that were not killed (bounded) and prints the table.</summary>
        public async Task<string> FinishAsync(Replicas replicas)
        {
            foreach (var replica in replicas)
            {
                replica.Stop();
            }

            Results = await Task.WhenAll(replicas.Where(r => !r.Killed).Select(r => r.ResultAsync(ResultBound)));
            End = server.Now;
            var window = End - (server.FirstGrant ?? End);
            Ideal = 1 + (int)Math.Ceiling(window / RefreshInterval);
            var log = server.Log;
            var table = new StringBuilder();
            table.AppendLine(CultureInfo.InvariantCulture, $"{title}: {replicas.Count} processes x {Callers} callers, {LifetimeSeconds} s tokens, window {window.TotalSeconds:0.0} s, ideal (1 client) {Ideal}");
            table.AppendLine("| replica | pid | calls | failed | max call ms | exchanges (cc/refresh) | 5005 unavailable | 5006 recovered | 5011 withheld | 5007 publish failed |");
            table.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
            foreach (var replica in replicas)
            {
                var mine = log.Where(e => e.Pid == replica.Pid && e.Issued).ToList();
                var exchanges = $"{mine.Count} ({mine.Count(e => e.Grant == "client_credentials")}/{mine.Count(e => e.Grant == "refresh_token")})";
                if (replica.Killed)
                {
                    table.AppendLine(CultureInfo.InvariantCulture, $"| {replica.Name} (killed) | {replica.Pid} | — | — | — | {exchanges} | — | — | — | — |");
                    continue;
                }

                var r = Results.Single(x => x.GetProperty("pid").GetInt32() == replica.Pid);
                table.AppendLine(CultureInfo.InvariantCulture,
                    $"| {replica.Name} | {replica.Pid} | {r.GetProperty("calls").GetInt64()} | {r.GetProperty("failures").GetInt64()} | {r.GetProperty("maxCallMs").GetInt64()} | {exchanges} | {Event(r, 5005)} | {Event(r, 5006)} | {Event(r, 5011)} | {Event(r, 5007)} |");
            }

            table.Append(CultureInfo.InvariantCulture,
                $"server: {server.ClientCredentialsGrants} client_credentials, {server.RefreshGrants} refreshes, {server.Exchanges} exchanges, {server.InvalidGrants} invalid_grant, {server.Reuses} reuses");
            var text = table.ToString();
            output.WriteLine(text);
            foreach (var r in Results)
            {
                if (r.GetProperty("firstError").ValueKind == JsonValueKind.String)
                {
                    output.WriteLine($"{Name(r)} first error: {r.GetProperty("firstError").GetString()}");
                }
            }

            return text;
        }

        public void AssertNoReuseAndNoFailure(string table)
        {
            Assert.True(server.InvalidGrants == 0 && server.Reuses == 0, "invalid_grant / reuse at the server." + Environment.NewLine + table);
            Assert.True(Results.All(r => r.GetProperty("failures").GetInt64() == 0), "failed calls." + Environment.NewLine + table);
            Assert.True(Results.All(r => r.GetProperty("calls").GetInt64() > 0), "a replica served no call." + Environment.NewLine + table);
        }
    }

    /// <summary>The replicas of one run; disposing kills those still running.</summary>
    private sealed class Replicas : List<ReplicaProcess>, IDisposable
    {
        public void Dispose()
        {
            foreach (var replica in this)
            {
                replica.Dispose();
            }
        }
    }
}
