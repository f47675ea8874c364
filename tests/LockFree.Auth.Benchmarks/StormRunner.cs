using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// Runs every storm cell in child processes (one at a time, never in parallel), alternating the two sides, and
/// collects the per-repetition results into the report.
/// </summary>
internal sealed class StormRunner(RunOptions options, Report report)
{
    private static readonly TimeSpan ChildTimeout = TimeSpan.FromMinutes(3);

    public async Task RunAsync()
    {
        foreach (var hop in options.Hops)
        {
            if (Wants("expiry"))
            {
                foreach (var n in options.Quick ? new[] { 1, 64 } : [1, 8, 64, 1024])
                {
                    await BothAsync("expiry", hop, n, options.Reps, isolated: false).ConfigureAwait(false);
                }
            }

            if (Wants("reject401"))
            {
                await BothAsync("reject401", hop, 1, options.Reps, isolated: false).ConfigureAwait(false);
                await BothAsync("reject401", hop, 64, options.IsolatedReps, isolated: true).ConfigureAwait(false);
            }

            if (Wants("invalidate-inflight"))
            {
                await BothAsync("invalidate-inflight", hop, 1, options.Reps * 3, isolated: false).ConfigureAwait(false);
            }

            if (Wants("cancel-first"))
            {
                await BothAsync("cancel-first", hop, 0, options.Reps, isolated: false).ConfigureAwait(false);
                await BothAsync("cancel-first", hop, 64, options.Reps, isolated: false).ConfigureAwait(false);
            }

            if (Wants("starvation"))
            {
                await BothAsync("starvation", hop, 0, options.Reps, isolated: false).ConfigureAwait(false);
                foreach (var k in options.Quick ? new[] { 2 } : [2, 8])
                {
                    await BothAsync("starvation", hop, k, options.IsolatedReps, isolated: true).ConfigureAwait(false);
                }
            }

            if (Wants("clientoauth-refresh") && ClientOAuthStorm.IsAvailable)
            {
                await OneAsync(new StormSpec("clientoauth-refresh", Side.Ours, hop, 1, options.Reps), isolated: false).ConfigureAwait(false);
                await OneAsync(new StormSpec("clientoauth-refresh", Side.Ours, hop, 64, options.IsolatedReps), isolated: true).ConfigureAwait(false);
            }
        }
    }

    private bool Wants(string scenario) => options.Only.Contains(scenario);

    private async Task BothAsync(string scenario, int hop, int n, int reps, bool isolated)
    {
        await OneAsync(new StormSpec(scenario, Side.Sdk, hop, n, reps), isolated).ConfigureAwait(false);
        await OneAsync(new StormSpec(scenario, Side.Ours, hop, n, reps), isolated).ConfigureAwait(false);
    }

    private async Task OneAsync(StormSpec spec, bool isolated)
    {
        var results = new List<StormResult>();
        var started = Stopwatch.StartNew();
        if (isolated)
        {
            // One process per repetition: the thread-pool growth one repetition causes must not help the next.
            for (var i = 0; i < spec.Reps; i++)
            {
                results.AddRange(await RunChildAsync(spec with { Reps = 1 }).ConfigureAwait(false));
            }
        }
        else
        {
            results.AddRange(await RunChildAsync(spec).ConfigureAwait(false));
        }

        report.Add(spec, results);
        var median = results.Count == 0 ? double.NaN : Stats.Median(results.Select(r => r.Ms));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {spec.Scenario,-20} {spec.Side,-4} hop={spec.HopMs,2} ms n={spec.N,4}: median {median,10:F3} ms, exchanges [{string.Join(',', results.Select(r => r.Exchanges))}], distinct [{string.Join(',', results.Select(r => r.Distinct))}], errors {results.Sum(r => r.Errors)}  ({started.Elapsed.TotalSeconds:F1} s)"));
    }

    private static async Task<List<StormResult>> RunChildAsync(StormSpec spec)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        psi.FileName = self;
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            psi.ArgumentList.Add(typeof(Program).Assembly.Location);
        }

        foreach (var a in new[] { "child", spec.Scenario, spec.Side.ToString(), spec.HopMs.ToString(CultureInfo.InvariantCulture), spec.N.ToString(CultureInfo.InvariantCulture), spec.Reps.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start the child process.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(ChildTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Console.Error.WriteLine($"  {spec}: timed out after {ChildTimeout.TotalSeconds:F0} s");
            return [new StormResult(ChildTimeout.TotalMilliseconds, -1, 0, 1)];
        }

        var output = await stdout.ConfigureAwait(false);
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
        {
            Console.Error.WriteLine($"  {spec}: child failed (exit {process.ExitCode}): {await stderr.ConfigureAwait(false)}{output}");
            return [];
        }

        return JsonSerializer.Deserialize<List<StormResult>>(line["RESULT ".Length..], Program.Json) ?? [];
    }
}

/// <summary>Small statistics helpers.</summary>
internal static class Stats
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
