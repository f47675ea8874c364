using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// Runs the storm cells in child processes, one at a time, alternating the two sides process by process (2.4.0,
/// ours, 2.4.0, ours, …) so load changes on the shared machine hit both sides alike. Each child process measures one
/// repetition of every size of a group (its baseline first), after its own warm-up.
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
                // Cheap and the most noise-sensitive ratio (≤ 1.05×): two repetitions per process.
                await AlternateAsync("expiry", hop, options.Quick ? [1, 64] : [1, 8, 64, 1024], options.Reps, repsPerChild: 2).ConfigureAwait(false);
            }

            if (Wants("reject401"))
            {
                // The 64-handler storm is last in its process: 2.4.0 leaves the pool grown (or blocked) behind it.
                await AlternateAsync("reject401", hop, [1, 64], options.HeavyReps, repsPerChild: 1).ConfigureAwait(false);
            }

            if (Wants("invalidate-inflight"))
            {
                await AlternateAsync("invalidate-inflight", hop, [1], options.Reps, repsPerChild: 3).ConfigureAwait(false);
            }

            if (Wants("cancel-first"))
            {
                await AlternateAsync("cancel-first", hop, [0, 64], options.Reps, repsPerChild: 1).ConfigureAwait(false);
            }

            if (Wants("starvation"))
            {
                await AlternateAsync("starvation", hop, [0, 2], options.HeavyReps, repsPerChild: 1).ConfigureAwait(false);
                if (!options.Quick)
                {
                    await AlternateAsync("starvation", hop, [8], options.HeavyReps, repsPerChild: 1).ConfigureAwait(false);
                }
            }

            if (Wants("clientoauth-refresh") && ClientOAuthStorm.IsAvailable)
            {
                await AlternateAsync("clientoauth-refresh", hop, [1, 64], options.Reps, repsPerChild: 1).ConfigureAwait(false);
            }
        }
    }

    private bool Wants(string scenario) => options.Only.Contains(scenario);

    private async Task AlternateAsync(string scenario, int hop, int[] ns, int processes, int repsPerChild)
    {
        var started = Stopwatch.StartNew();
        var collected = new Dictionary<(Side, int), List<StormResult>>();
        for (var p = 0; p < processes; p++)
        {
            foreach (var side in new[] { Side.Sdk, Side.Ours })
            {
                var spec = new StormSpec(scenario, side, hop, ns, repsPerChild);
                foreach (var sized in await RunChildAsync(spec).ConfigureAwait(false))
                {
                    report.Add(scenario, hop, sized.N, side, sized.Result);
                    if (!collected.TryGetValue((side, sized.N), out var list))
                    {
                        collected[(side, sized.N)] = list = [];
                    }

                    list.Add(sized.Result);
                }
            }
        }

        foreach (var ((side, n), results) in collected.OrderBy(c => c.Key.Item2).ThenBy(c => c.Key.Item1))
        {
            var median = Stats.Median(results.Select(r => r.Ms));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {scenario,-20} {side,-4} hop={hop,2} ms n={n,4}: median {median,10:F3} ms, exchanges [{string.Join(',', results.Select(r => r.Exchanges))}], distinct [{string.Join(',', results.Select(r => r.Distinct))}], errors {results.Sum(r => r.Errors)}, unfinished {results.Sum(r => r.Unfinished)}"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ({scenario}, hop {hop} ms: {started.Elapsed.TotalSeconds:F1} s)"));
    }

    private static async Task<List<SizedResult>> RunChildAsync(StormSpec spec)
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

        foreach (var a in new[] { "child", spec.Scenario, spec.Side.ToString(), spec.HopMs.ToString(CultureInfo.InvariantCulture), string.Join(',', spec.Ns.Select(n => n.ToString(CultureInfo.InvariantCulture))), spec.Reps.ToString(CultureInfo.InvariantCulture) })
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
            return [.. spec.Ns.Select(n => new SizedResult(n, new StormResult(ChildTimeout.TotalMilliseconds, -1, 0, 0, Unfinished: 1)))];
        }

        var output = await stdout.ConfigureAwait(false);
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
        {
            Console.Error.WriteLine($"  {spec}: child failed (exit {process.ExitCode}): {await stderr.ConfigureAwait(false)}{output}");
            return [];
        }

        return JsonSerializer.Deserialize<List<SizedResult>>(line["RESULT ".Length..], Program.Json) ?? [];
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
