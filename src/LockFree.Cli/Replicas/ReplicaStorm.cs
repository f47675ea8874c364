using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using LockFree.Auth;
using LockFree.Cli.Embedded;
using LockFree.Cli.Storm;

namespace LockFree.Cli.Replicas;

/// <summary>
/// <c>lockfree storm --replicas N</c>: the embedded authorization server (rotating refresh tokens for the confidential
/// client, reuse detection revoking the family), a <c>redis-server</c> started here on a free loopback port (or the
/// existing Redis of <c>--redis HOST:PORT</c>; none with <c>--no-shared-store</c>), one sign-in (a client-credentials grant
/// with a refresh token) whose token set is handed to every replica on its standard input, and N copies of this executable
/// running the hidden <c>replica</c> command; then the per-replica and total counts, and the check "exchanges ≤ the ideal
/// of ONE client". See spec/storm.md.
/// </summary>
internal static class ReplicaStorm
{
    public const string MissingRedisMessage =
        "lockfree storm --replicas: redis-server not found on PATH; install it (apt-get install -y redis-server / brew install redis), " +
        "or use an existing one with --redis HOST:PORT, or run the baseline with --no-shared-store.";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static async Task<int> RunAsync(StormSettings settings, CliEnvironment env, bool json, TimeProvider time, CancellationToken cancellationToken)
    {
        LocalRedisServer? redis = null;
        var endpoint = settings.SharedStore ? settings.Redis : null;
        if (settings.SharedStore && endpoint is null)
        {
            var executable = LocalRedisServer.Find();
            if (executable is null)
            {
                await env.Error.WriteLineAsync(MissingRedisMessage);
                return ExitCodes.Usage;
            }

            redis = await LocalRedisServer.StartAsync(executable, cancellationToken);
            endpoint = redis.Endpoint;
        }
        else if (endpoint is not null && await LocalRedisServer.PingAsync(endpoint, cancellationToken) is { } unreachable)
        {
            await env.Error.WriteLineAsync($"lockfree storm --replicas: no Redis answered at --redis {endpoint} ({unreachable}).");
            return ExitCodes.Usage;
        }

        try
        {
            await using var server = await EmbeddedServer.StartAsync(
                new EmbeddedServerSettings { TokenLifetime = settings.TokenLifetime, RevokeEvery = TimeSpan.Zero, ConfidentialRefreshTokens = true },
                time, cancellationToken);
            if (!json)
            {
                await env.Out.WriteLineAsync(
                    $"lockfree storm --replicas {settings.Replicas}: {settings.Replicas} processes x {settings.Clients} callers, {Seconds(settings.Duration)} s, " +
                    $"{Seconds(settings.TokenLifetime)} s tokens (rotating refresh tokens, reuse revokes the chain), shared store: " +
                    (endpoint is null ? "off (baseline)" : redis is null ? $"on (Redis at {endpoint})" : $"on (redis-server {endpoint}, started for this run)"));
            }

            var result = await RunCoreAsync(settings, server, endpoint, time, cancellationToken);
            if (json)
            {
                await env.Out.WriteLineAsync(JsonSerializer.Serialize(result, Json));
            }
            else
            {
                await WriteTextAsync(env.Out, result);
            }

            return result.Interrupted ? ExitCodes.Interrupted : result.Passed ? ExitCodes.Passed : ExitCodes.Failed;
        }
        finally
        {
            if (redis is not null)
            {
                await redis.DisposeAsync();
            }
        }
    }

    private static async Task<ReplicaStormResult> RunCoreAsync(
        StormSettings settings, EmbeddedServer server, string? redis, TimeProvider time, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        var prefix = "lockfree-storm:" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        // The one sign-in all replicas start from (pods restored from one token cache): its refresh token is the one they
        // all hold. It is due at once (a token of --token-lifetime has less than the 30 s a restored token must have left),
        // so every replica's first exchange presents it: with the store one of them does and the others adopt; without
        // it the server sees it reused.
        var before = server.Counters;
        var seed = SerializeSeed(await SignInOnceAsync(server, time, cancellationToken));
        var start = time.GetTimestamp();
        var replicas = new Task<ReplicaOutcome>[settings.Replicas];
        for (var i = 0; i < replicas.Length; i++)
        {
            var startInfo = SelfStartInfo();
            foreach (var arg in new[]
            {
                "replica", "--server", server.BaseUri.ToString(), "--callers", settings.Clients.ToString(CultureInfo.InvariantCulture),
                "--seconds", Seconds(settings.Duration), "--replica", i.ToString(CultureInfo.InvariantCulture),
                "--client-id", server.Settings.ClientId, "--prefix", prefix, "--seed-stdin",
            }.Concat(redis is null ? [] : ["--redis", redis]))
            {
                startInfo.ArgumentList.Add(arg);
            }

            // Secrets go through the environment, never the command line (visible to every user in ps).
            startInfo.Environment["LOCKFREE_CLIENT_SECRET"] = server.Settings.ClientSecret;
            startInfo.Environment["LOCKFREE_SHARED_KEY"] = key;
            replicas[i] = RunReplicaAsync(i, startInfo, seed, settings.Duration + TimeSpan.FromSeconds(60), cancellationToken);
        }

        var outcomes = await Task.WhenAll(replicas);
        var end = time.GetElapsedTime(start);
        var interrupted = cancellationToken.IsCancellationRequested;

        var issued = server.IssueTimestamps;
        // The ideal of one client restored from the seed: the refresh of the due seed at the replicas' first exchange, then
        // one every refresh interval. The seed's own grant (before `start`) is not counted.
        var afterSeed = issued.Where(t => t >= start).ToList();
        var first = afterSeed.Count > 0 ? TimeSpan.FromTicks((afterSeed.Min() - start) * TimeSpan.TicksPerSecond / time.TimestampFrequency) : end;
        var interval = IdealExchanges.RefreshInterval(settings.TokenLifetime);
        var ideal = IdealExchanges.Compute(first, end, interval, []).Total;
        var counters = server.Counters;
        var clientCredentials = counters.ClientCredentialsGrants - before.ClientCredentialsGrants - 1;
        var refreshes = counters.RefreshGrants - before.RefreshGrants;
        var serverStats = new ReplicaServerStats(
            clientCredentials, refreshes, clientCredentials + refreshes, counters.RejectedGrants - before.RejectedGrants, server.RefreshReuses);
        var reports = outcomes.Select(o => o.Report).OfType<ReplicaReport>().ToList();
        var total = new ReplicaTotals(reports.Sum(r => r.Calls), reports.Sum(r => r.Failed), reports.Sum(r => r.Exchanges), reports.Sum(r => r.InvalidGrant));

        var failures = new List<string>();
        foreach (var o in outcomes.Where(o => o.ExitCode != 0 || o.Report is null))
        {
            failures.Add($"replica {o.Replica} exited with code {o.ExitCode}{(o.Error is null ? "" : ": " + o.Error)}");
        }

        if (serverStats.Exchanges > ideal)
        {
            failures.Add($"{serverStats.Exchanges} token exchanges for {settings.Replicas} replicas exceed the ideal of ONE client ({ideal}).");
        }

        if (serverStats.Rejected > 0 || total.InvalidGrant > 0)
        {
            failures.Add(serverStats.RefreshReuses > 0
                ? $"{Math.Max(serverStats.Rejected, total.InvalidGrant)} token requests were rejected with invalid_grant: the replicas presented the same refresh token, " +
                  $"the server saw it reused ({serverStats.RefreshReuses}x) and revoked its family; {serverStats.ClientCredentials} client-credentials grants were replicas starting over."
                : $"{Math.Max(serverStats.Rejected, total.InvalidGrant)} token requests were rejected (invalid_grant).");
        }

        if (total.Failed > 0)
        {
            failures.Add($"{total.Failed} token calls failed.");
        }

        return new ReplicaStormResult
        {
            Replicas = settings.Replicas,
            SharedStore = redis is not null,
            CallersPerReplica = settings.Clients,
            DurationSeconds = settings.Duration.TotalSeconds,
            WindowSeconds = Math.Round((end - first).TotalSeconds, 2),
            TokenLifetimeSeconds = settings.TokenLifetime.TotalSeconds,
            RefreshIntervalSeconds = interval.TotalSeconds,
            Interrupted = interrupted,
            PerReplica = outcomes,
            Total = total,
            Server = serverStats,
            IdealOneClient = ideal,
            Failures = failures,
        };
    }

    /// <summary>
    /// The one sign-in: a client-credentials grant at the embedded server (which returns a rotating refresh token), as the
    /// token set a provider would have cached. No scope on it: the replicas ask for none, so they restore it.
    /// </summary>
    private static async Task<TokenContainer> SignInOnceAsync(EmbeddedServer server, TimeProvider time, CancellationToken cancellationToken)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync(
            new Uri(server.BaseUri, "token"),
            new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = server.Settings.ClientId,
                ["client_secret"] = server.Settings.ClientSecret,
            }),
            cancellationToken);
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        var root = body.RootElement;
        return new TokenContainer
        {
            AccessToken = root.GetProperty("access_token").GetString()!,
            RefreshToken = root.GetProperty("refresh_token").GetString()
                ?? throw new InvalidOperationException("The embedded server issued no refresh token for the seed."),
            ExpiresIn = TimeSpan.FromSeconds(root.GetProperty("expires_in").GetDouble()),
            ObtainedAt = time.GetUtcNow(),
            Issuer = server.Issuer,
        };
    }

    private static string SerializeSeed(TokenContainer seed) => ReplicaProcess.SerializeSeed(seed);

    private static async Task<ReplicaOutcome> RunReplicaAsync(int index, ProcessStartInfo startInfo, string seed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        startInfo.RedirectStandardInput = true;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.UseShellExecute = false;
        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException("A replica process did not start.");

        // The seed (secrets) on standard input, never on the command line.
        try
        {
            await process.StandardInput.WriteLineAsync(seed.AsMemory(), cancellationToken);
            await process.StandardInput.FlushAsync(cancellationToken);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It exited already; its exit code and standard error say why.
        }

        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            return new ReplicaOutcome(index, -1, null, cancellationToken.IsCancellationRequested ? "interrupted" : $"no exit within {Seconds(timeout)} s (killed)");
        }

        var report = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(ReplicaProcess.Deserialize).LastOrDefault(r => r is not null);
        var error = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        return new ReplicaOutcome(index, process.ExitCode, report, error);
    }

    /// <summary>
    /// How to start this executable again: the <c>lockfree</c> app host when it is the running process or sits next to
    /// the assembly, else <c>dotnet lockfree.dll</c> (a test host, <c>dotnet run</c>).
    /// </summary>
    internal static ProcessStartInfo SelfStartInfo()
    {
        var assembly = typeof(ReplicaStorm).Assembly.Location;
        var processPath = Environment.ProcessPath;
        if (processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "lockfree")
        {
            return new ProcessStartInfo(processPath);
        }

        var appHost = Path.Combine(Path.GetDirectoryName(assembly)!, OperatingSystem.IsWindows() ? "lockfree.exe" : "lockfree");
        if (File.Exists(appHost))
        {
            return new ProcessStartInfo(appHost);
        }

        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH")
            ?? (processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "dotnet" ? processPath : "dotnet");
        var startInfo = new ProcessStartInfo(dotnet);
        startInfo.ArgumentList.Add(assembly);
        return startInfo;
    }

    private static async Task WriteTextAsync(TextWriter output, ReplicaStormResult r)
    {
        await output.WriteLineAsync();
        await output.WriteLineAsync($"{"replica",-8} {"token calls",12} {"failed",7} {"exchanges",10} {"invalid_grant",14} {"tokens seen",12}");
        foreach (var o in r.PerReplica)
        {
            await output.WriteLineAsync(o.Report is { } p
                ? $"{o.Replica,-8} {p.Calls,12:N0} {p.Failed,7} {p.Exchanges,10} {p.InvalidGrant,14} {p.DistinctTokens,12}"
                : $"{o.Replica,-8} exit code {o.ExitCode}: {o.Error}");
        }

        await output.WriteLineAsync($"{"total",-8} {r.Total.Calls,12:N0} {r.Total.Failed,7} {r.Total.Exchanges,10} {r.Total.InvalidGrant,14}");
        await output.WriteLineAsync();
        await output.WriteLineAsync(
            $"server (after the one sign-in every replica started from): {r.Server.ClientCredentials} client_credentials + {r.Server.Refreshes} refresh = {r.Server.Exchanges} exchanges; " +
            $"{r.Server.Rejected} rejected (invalid_grant), {r.Server.RefreshReuses} refresh-token reuses");
        await output.WriteLineAsync(
            $"ideal of ONE client over {r.WindowSeconds:0.0} s (first exchange -> last replica exit, one exchange every {r.RefreshIntervalSeconds:0.0##} s): {r.IdealOneClient}");
        await output.WriteLineAsync(r.Passed
            ? $"PASS: {r.Server.Exchanges} exchanges <= {r.IdealOneClient} (ideal of one client), 0 invalid_grant, 0 failed calls"
            : "FAIL: " + string.Join(" ", r.Failures));
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
}
