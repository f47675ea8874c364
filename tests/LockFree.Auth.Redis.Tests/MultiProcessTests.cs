using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// The headline (R17): 4 replica processes (tests/LockFree.Auth.ReplicaHost) × 64 callers of one
/// client-credentials client with rotating refresh tokens and 2-second tokens, against a real HTTP authorization server
/// with reuse detection and a real redis-server. With the store: 0 invalid_grant, 0 failed calls, and about as many
/// exchanges as ONE client needs; the same run without the store is the baseline, reported.
/// </summary>
[Collection(MultiProcessGroup.Name)]
public sealed class MultiProcessTests(RedisServerFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    private const int Replicas = 4;
    private const int Callers = 64;
    private const int LifetimeSeconds = 2;

    // The coordinator's defaults for a 2 s token: skew min(30 s, 10 %) = 0.2 s, refresh-ahead min(2 min, 20 %) = 0.4 s,
    // so one client exchanges about every 1.4 s.
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(LifetimeSeconds * (1 - 0.1 - 0.2));
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task FourReplicaProcesses_64CallersEach_ShareOneTokenChain_AsIdealAsOneClient()
    {
        var shared = await RunAsync(withStore: true);
        var baseline = await RunAsync(withStore: false);

        output.WriteLine($"{Replicas} processes x {Callers} callers, {LifetimeSeconds} s tokens, {Duration.TotalSeconds:0} s per run (refresh every ~{RefreshInterval.TotalSeconds:0.0} s)");
        output.WriteLine("| run | window s | ideal (1 client) | client_credentials | refreshes | exchanges | invalid_grant | reuses | calls | failed calls |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        output.WriteLine(shared.Row("with the store"));
        output.WriteLine(baseline.Row("without (baseline)"));

        Assert.Equal(0, shared.InvalidGrants);
        Assert.Equal(0, shared.Reuses);
        Assert.Equal(0, shared.Failures);
        Assert.True(shared.Calls > 0);
        Assert.True(
            shared.Exchanges <= shared.Ideal + 2,
            $"with the store: {shared.Exchanges} exchanges for an ideal of {shared.Ideal} (one client over {shared.Window.TotalSeconds:0.0} s)");

        // The baseline has no shared state: each process runs its own chain, so one process's share of it is the measured
        // ideal of ONE client; the shared run stays within it (+2: the runs' windows differ by process start-up).
        var oneClient = (int)Math.Ceiling(baseline.Exchanges / (double)Replicas);
        output.WriteLine($"one client, measured (baseline / {Replicas}): {oneClient} exchanges; with the store: {shared.Exchanges}; without: {baseline.Exchanges} ({baseline.Exchanges / (double)shared.Exchanges:0.0}x)");
        Assert.True(shared.Exchanges <= oneClient + 2, $"with the store: {shared.Exchanges} exchanges; one client needs {oneClient}");
        Assert.True(baseline.Exchanges > shared.Exchanges, $"baseline {baseline.Exchanges} vs shared {shared.Exchanges}");
    }

    private async Task<Run> RunAsync(bool withStore)
    {
        await using var server = await RotatingAuthorizationServer.StartAsync(LifetimeSeconds);
        var host = typeof(MultiProcessTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ReplicaHost").Value!;
        var prefix = "replicas:" + Guid.NewGuid().ToString("N");
        var processes = new List<Process>();
        try
        {
            for (var i = 0; i < Replicas; i++)
            {
                var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var arg in new[] { host, "--server", server.BaseUrl, "--callers", Callers.ToString(CultureInfo.InvariantCulture), "--seconds", Duration.TotalSeconds.ToString(CultureInfo.InvariantCulture), "--replica", i.ToString(CultureInfo.InvariantCulture) })
                {
                    start.ArgumentList.Add(arg);
                }

                if (withStore)
                {
                    foreach (var arg in new[] { "--redis", fixture.Server.Endpoint, "--prefix", prefix, "--key", Convert.ToHexString(Replica.TestKey) })
                    {
                        start.ArgumentList.Add(arg);
                    }
                }

                processes.Add(Process.Start(start) ?? throw new InvalidOperationException("The replica did not start."));
            }

            var results = await Task.WhenAll(processes.Select(async p =>
            {
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                await p.WaitForExitAsync().Within(Duration + TimeSpan.FromSeconds(40));
                Assert.True(p.ExitCode == 0, $"replica exited with {p.ExitCode}: {await stderr}");
                var line = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
                return JsonDocument.Parse(line).RootElement.Clone();
            }));
            var end = server.Now;
            var window = end - (server.FirstGrant ?? end);
            foreach (var r in results)
            {
                output.WriteLine(r.GetRawText());
            }

            return new Run(
                window,
                1 + (int)Math.Ceiling(window / RefreshInterval),
                server.ClientCredentialsGrants,
                server.RefreshGrants,
                server.Exchanges,
                server.InvalidGrants,
                server.Reuses,
                results.Sum(r => r.GetProperty("calls").GetInt64()),
                results.Sum(r => r.GetProperty("failures").GetInt64()));
        }
        finally
        {
            foreach (var p in processes)
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true); // only the replicas this test started
                }

                p.Dispose();
            }
        }
    }

    private sealed record Run(TimeSpan Window, int Ideal, int ClientCredentials, int Refreshes, int Exchanges, int InvalidGrants, int Reuses, long Calls, long Failures)
    {
        public string Row(string name) => string.Create(
            CultureInfo.InvariantCulture,
            $"| {name} | {Window.TotalSeconds:0.0} | {Ideal} | {ClientCredentials} | {Refreshes} | {Exchanges} | {InvalidGrants} | {Reuses} | {Calls} | {Failures} |");
    }
}
