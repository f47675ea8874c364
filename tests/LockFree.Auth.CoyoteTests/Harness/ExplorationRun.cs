using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LockFree.Auth.CoyoteTests.Harness;

/// <summary>What the exploration run found in one scenario: a bug with its trace and the command that replays it.</summary>
internal sealed record ExplorationBug(string Scenario, int Round, uint Seed, int Iteration, string Text, string Trace, string Log, string Replay);

/// <summary>One scenario's totals over the run.</summary>
internal sealed class ExplorationScenario(string name)
{
    public string Name { get; } = name;
    public int Rounds { get; set; }
    public long Iterations { get; set; }
    public long SchedulingDecisions { get; set; }
    public double Seconds { get; set; }
    public List<uint> Seeds { get; } = [];
    public List<string> Uncontrolled { get; } = [];
    public ExplorationBug? Bug { get; set; }
}

/// <summary>The whole run, as written to report.json and report.md.</summary>
internal sealed record ExplorationReport(
    DateTimeOffset StartedAt,
    double BudgetSeconds,
    double ElapsedSeconds,
    uint IterationsPerRound,
    uint BaseSeed,
    bool Strict,
    IReadOnlyList<ExplorationScenario> Scenarios)
{
    public long Iterations => Scenarios.Sum(s => s.Iterations);
    public long SchedulingDecisions => Scenarios.Sum(s => s.SchedulingDecisions);
    public IReadOnlyList<ExplorationBug> Bugs => [.. Scenarios.Where(s => s.Bug is not null).Select(s => s.Bug!)];
}

/// <summary>
/// The exploration run for CI users (spec/exploration-runs.md): every scenario of <see cref="ScenarioCatalog"/>,
/// round-robin, <see cref="ExplorationRunOptions.IterationsPerRound"/> iterations at a time with a new seed each round,
/// strict, until the time budget is spent (the first round always completes). A scenario that shows a bug is not explored further; its trace and readable
/// log go to <c>{out}/traces/</c> and the report gives the replay command. Writes <c>{out}/report.json</c> and
/// <c>{out}/report.md</c>.
/// </summary>
internal static class ExplorationRun
{
    public static ExplorationReport Run(ExplorationRunOptions options, IReadOnlyList<(string Name, Func<Task> Scenario)> catalog, Action<string>? log = null)
    {
        var traces = Path.Combine(options.OutputDirectory, "traces");
        Directory.CreateDirectory(traces);
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        var stats = catalog.Select(c => new ExplorationScenario(c.Name)).ToArray();
        var round = 0;
        while (watch.Elapsed < options.Budget && stats.Any(s => s.Bug is null))
        {
            round++;
            // The first round always completes, so every scenario is explored at least once whatever the budget.
            for (var i = 0; i < catalog.Count && (round == 1 || watch.Elapsed < options.Budget); i++)
            {
                var stat = stats[i];
                if (stat.Bug is not null)
                {
                    continue;
                }

                var seed = unchecked(options.BaseSeed + ((uint)round * 7919u) + (uint)i);
                var name = $"{catalog[i].Name}@r{round}";
                var result = CoyoteRunner.Explore(name, catalog[i].Scenario, options.IterationsPerRound, seed, strict: true);
                stat.Rounds++;
                stat.Iterations += result.IterationsRun;
                stat.SchedulingDecisions += result.SchedulingSteps;
                stat.Seconds += result.Elapsed.TotalSeconds;
                stat.Seeds.Add(seed);
                foreach (var u in result.UncontrolledInvocations.Where(u => !stat.Uncontrolled.Contains(u)))
                {
                    stat.Uncontrolled.Add(u);
                }

                if (result.BugsFound > 0 && result.TracePath is { } trace)
                {
                    var kept = Path.Combine(traces, Path.GetFileName(trace));
                    File.Copy(trace, kept, overwrite: true);
                    var readable = Path.ChangeExtension(trace, ".txt");
                    var keptLog = Path.ChangeExtension(kept, ".txt");
                    if (File.Exists(readable))
                    {
                        File.Copy(readable, keptLog, overwrite: true);
                    }

                    stat.Bug = new ExplorationBug(catalog[i].Name, round, seed, result.IterationsRun, result.FirstBug, kept, keptLog, CoyoteRunner.ReplayCommand(catalog[i].Name, kept));
                    log?.Invoke($"BUG in {catalog[i].Name} (round {round}, seed {seed}, iteration {result.IterationsRun}): {result.FirstBug}");
                }
            }

            log?.Invoke($"round {round} done at {watch.Elapsed.TotalSeconds:F0} s: {stats.Sum(s => s.Iterations)} iterations");
        }

        var report = new ExplorationReport(started, options.Budget.TotalSeconds, watch.Elapsed.TotalSeconds, options.IterationsPerRound, options.BaseSeed, true, stats);
        File.WriteAllText(Path.Combine(options.OutputDirectory, "report.json"), JsonSerializer.Serialize(report, JsonOptions));
        File.WriteAllText(Path.Combine(options.OutputDirectory, "report.md"), ToMarkdown(report));
        return report;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static string ToMarkdown(ExplorationReport report)
    {
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine("# Coyote exploration run");
        md.AppendLine();
        md.AppendLine(c, $"Started {report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC; budget {report.BudgetSeconds:F0} s, ran {report.ElapsedSeconds:F0} s; {report.IterationsPerRound} iterations per scenario per round, a new seed each round (base seed {report.BaseSeed}); strict (partially controlled concurrency disabled).");
        md.AppendLine();
        md.AppendLine(c, $"**{report.Bugs.Count} bug(s)**; {report.Scenarios.Count} scenarios, {report.Iterations:N0} iterations, {report.SchedulingDecisions:N0} scheduling decisions explored.");
        md.AppendLine();
        md.AppendLine("| Scenario | Rounds | Iterations | Scheduling decisions | Time (s) | Uncontrolled | Result |");
        md.AppendLine("|---|---:|---:|---:|---:|---|---|");
        foreach (var s in report.Scenarios)
        {
            md.AppendLine(c, $"| `{s.Name}` | {s.Rounds} | {s.Iterations:N0} | {s.SchedulingDecisions:N0} | {s.Seconds:F1} | {(s.Uncontrolled.Count == 0 ? "0" : string.Join(", ", s.Uncontrolled))} | {(s.Bug is null ? "no bug" : "**BUG**")} |");
        }

        if (report.Bugs.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## Bugs");
            foreach (var b in report.Bugs)
            {
                md.AppendLine();
                md.AppendLine(c, $"### `{b.Scenario}` (round {b.Round}, seed {b.Seed}, iteration {b.Iteration})");
                md.AppendLine();
                md.AppendLine("```");
                md.AppendLine(b.Text);
                md.AppendLine("```");
                md.AppendLine();
                md.AppendLine(c, $"Trace: `{b.Trace}` (readable log: `{b.Log}`). Replay this exact schedule (one iteration):");
                md.AppendLine();
                md.AppendLine("```bash");
                md.AppendLine(b.Replay);
                md.AppendLine("```");
            }
        }

        return md.ToString();
    }
}

/// <summary>Options of <see cref="ExplorationRun"/>, from the environment (set by eng/explore.sh).</summary>
internal sealed record ExplorationRunOptions(TimeSpan Budget, uint IterationsPerRound, uint BaseSeed, string OutputDirectory)
{
    /// <summary>COYOTE_EXPLORE_SECONDS (required), COYOTE_EXPLORE_ROUND (default 200), COYOTE_SEED (default: from the clock), COYOTE_EXPLORE_OUT (default TestResults/exploration/coyote).</summary>
    public static ExplorationRunOptions? FromEnvironment()
    {
        if (!double.TryParse(Environment.GetEnvironmentVariable("COYOTE_EXPLORE_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
        {
            return null;
        }

        var round = uint.TryParse(Environment.GetEnvironmentVariable("COYOTE_EXPLORE_ROUND"), NumberStyles.None, CultureInfo.InvariantCulture, out var r) && r > 0 ? r : 200;
        var seed = CoyoteRunner.Seed ?? (uint)(DateTime.UtcNow.Ticks & 0x7FFFFFFF);
        var output = Environment.GetEnvironmentVariable("COYOTE_EXPLORE_OUT") is { Length: > 0 } o
            ? Path.GetFullPath(o)
            : Path.Combine(Path.GetDirectoryName(CoyoteRunner.ResultsDirectory)!, "exploration", "coyote");
        return new ExplorationRunOptions(TimeSpan.FromSeconds(seconds), round, seed, output);
    }
}
