using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// The issue's headline (R17): 4 replica processes (tests/LockFree.Auth.ReplicaHost) × 64 callers of ONE client identity
/// that start from ONE sign-in — the same token set (and so the same refresh token) handed to every replica, as pods
/// restored from one token cache — against a real HTTP authorization server with rotating refresh tokens and reuse
/// detection, 2-second tokens, 20 s. With the store: 0 invalid_grant, 0 reuses, 0 failed calls, and as many exchanges as
/// ONE client needs. The same run without the store is the baseline: the replicas present the same refresh token, the
/// server sees it reused and revokes the family.
/// </summary>
[Collection(MultiProcessGroup.Name)]
public sealed class MultiProcessTests(RedisServerFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    private const int Replicas = 4;
    private const int Callers = 64;
    private const int LifetimeSeconds = 2;

    // The coordinator's defaults for a 2 s token: skew min(30 s, 10 %) = 0.2 s, refresh-ahead min(2 min, 20 %) = 0.4 s,
    // so one client exchanges at most about every 1.4 s.
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(LifetimeSeconds * (1 - 0.1 - 0.2));
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task FourReplicaProcesses_64CallersEach_ShareOneTokenChain_AsIdealAsOneClient()
    {
        var shared = await RunAsync(withStore: true);
        var baseline = await RunAsync(withStore: false);

        output.WriteLine($"{Replicas} processes x {Callers} callers, one seed token set (one client-credentials grant with a refresh token) handed to all, {LifetimeSeconds} s tokens, {Duration.TotalSeconds:0} s per run (refresh every ~{RefreshInterval.TotalSeconds:0.0} s)");
        output.WriteLine("| run | window s | ideal (1 client) | client_credentials | refreshes | exchanges | invalid_grant | reuses | calls | failed calls | per replica: exchanges (cc/refresh), invalid_grant |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        output.WriteLine(shared.Row("with the store"));
        output.WriteLine(baseline.Row("without (baseline)"));

        var report = "with the store: " + shared.Row("shared") + "\nwithout: " + baseline.Row("baseline");
        Assert.True(shared.InvalidGrants == 0, report);
        Assert.True(shared.Reuses == 0, report);
        Assert.True(shared.Failures == 0, report);
        Assert.True(shared.Calls > 0, report);
        Assert.True(
            shared.Exchanges <= shared.Ideal + 1,
            $"with the store: {shared.Exchanges} exchanges for an ideal of {shared.Ideal} (one client over {shared.Window.TotalSeconds:0.0} s)\n{report}");

        // Deterministic: every replica starts with the seed due (2 s token, < the 30 s a restored token must have left),
        // so each presents the seed's refresh token in its first exchange. Without the store the first presentation is
        // honoured and every later one is rejected; the second one is a reuse, which revokes the family.
        Assert.True(baseline.Reuses >= 1, $"the baseline shows no refresh-token reuse\n{report}");
        Assert.True(baseline.InvalidGrants >= Replicas - 1, $"the baseline shows fewer than {Replicas - 1} invalid_grant\n{report}");
        Assert.True(baseline.Exchanges > shared.Exchanges, $"baseline {baseline.Exchanges} vs shared {shared.Exchanges}\n{report}");
    }

    private async Task<Run> RunAsync(bool withStore)
    {
        await using var server = await RotatingAuthorizationServer.StartAsync(LifetimeSeconds);
        var host = typeof(MultiProcessTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ReplicaHost").Value!;
        var prefix = "replicas:" + Guid.NewGuid().ToString("N");
        var seedFile = await SignInOnceAsync(server);
        var processes = new List<Process>();
        try
        {
            for (var i = 0; i < Replicas; i++)
            {
                var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var arg in new[] { host, "--server", server.BaseUrl, "--callers", Callers.ToString(CultureInfo.InvariantCulture), "--seconds", Duration.TotalSeconds.ToString(CultureInfo.InvariantCulture), "--replica", i.ToString(CultureInfo.InvariantCulture), "--seed-file", seedFile })
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
            foreach (var r in results)
            {
                output.WriteLine(r.GetRawText());
            }

            // The seed's grant (pid 0: this test) is the sign-in, not a replica's exchange; the window starts at the
            // replicas' first token request (the refresh of the due seed).
            var log = server.Log.Where(e => e.Pid != 0).ToList();
            var window = end - (log.Count > 0 ? log[0].At : end);
            var perReplica = results.Select(r =>
            {
                var pid = r.GetProperty("pid").GetInt32();
                var mine = log.Where(e => e.Pid == pid).ToList();
                return string.Create(
                    CultureInfo.InvariantCulture,
                    $"{mine.Count(e => e.Issued)} ({mine.Count(e => e.Issued && e.Grant == "client_credentials")}/{mine.Count(e => e.Issued && e.Grant == "refresh_token")}), {mine.Count(e => !e.Issued)}");
            });
            return new Run(
                window,
                1 + (int)Math.Ceiling(window / RefreshInterval),
                log.Count(e => e.Issued && e.Grant == "client_credentials"),
                log.Count(e => e.Issued && e.Grant == "refresh_token"),
                log.Count(e => e.Issued),
                server.InvalidGrants,
                server.Reuses,
                results.Sum(r => r.GetProperty("calls").GetInt64()),
                results.Sum(r => r.GetProperty("failures").GetInt64()),
                string.Join(" · ", perReplica));
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

            File.Delete(seedFile);
        }
    }

    /// <summary>
    /// The one sign-in: a client-credentials grant (with a refresh token) made by the test itself, written as a token set to
    /// a 0600 temporary file that every replica restores (no token on a command line).
    /// </summary>
    private static async Task<string> SignInOnceAsync(RotatingAuthorizationServer server)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync(
            new Uri(server.BaseUrl + "/token"),
            new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = "m2m", ["client_secret"] = "pw" })).Within();
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>().Within();
        var seed = new TokenContainer
        {
            AccessToken = body.GetProperty("access_token").GetString()!,
            RefreshToken = body.GetProperty("refresh_token").GetString(),
            ExpiresIn = TimeSpan.FromSeconds(body.GetProperty("expires_in").GetInt32()),
            ObtainedAt = DateTimeOffset.UtcNow,
            Issuer = server.BaseUrl,
        };
        var path = Path.Combine(Path.GetTempPath(), "lockfree-seed-" + Guid.NewGuid().ToString("N") + ".json");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var file = new FileStream(path, options))
        {
            await JsonSerializer.SerializeAsync(file, seed);
        }

        return path;
    }

    private sealed record Run(TimeSpan Window, int Ideal, int ClientCredentials, int Refreshes, int Exchanges, int InvalidGrants, int Reuses, long Calls, long Failures, string PerReplica)
    {
        public string Row(string name) => string.Create(
            CultureInfo.InvariantCulture,
            $"| {name} | {Window.TotalSeconds:0.0} | {Ideal} | {ClientCredentials} | {Refreshes} | {Exchanges} | {InvalidGrants} | {Reuses} | {Calls} | {Failures} | {PerReplica} |");
    }
}
