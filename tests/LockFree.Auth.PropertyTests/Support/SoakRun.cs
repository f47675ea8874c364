using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace LockFree.Auth.PropertyTests.Support;

/// <summary>One property's totals over the soak; <see cref="Seed"/> and <see cref="Rerun"/> are set when it failed.</summary>
internal sealed class SoakProperty(string name)
{
    public string Name { get; } = name;
    public int Rounds { get; set; }
    public long Iterations { get; set; }
    public double Seconds { get; set; }
    public string? Failure { get; set; }
    public string? Seed { get; set; }
    public string? Rerun { get; set; }
}

/// <summary>The soak, as written to report.json and report.md.</summary>
internal sealed record SoakReport(DateTimeOffset StartedAt, double BudgetSeconds, double ElapsedSeconds, long IterationsPerRound, IReadOnlyList<SoakProperty> Properties)
{
    public int Failures => Properties.Count(p => p.Failure is not null);
}

/// <summary>
/// The CsCheck soak for CI users (spec/exploration-runs.md): every property of the suite, round-robin, each round with
/// <c>CsCheck_Iter</c> = the round size (CsCheck picks new random seeds every round), until the time budget is spent (the
/// first round always completes). A failing property is not run again; the report gives its seed and the command that
/// reruns it. Writes <c>{out}/report.json</c> and <c>{out}/report.md</c>.
/// </summary>
internal static partial class SoakRun
{
    /// <summary>Every property of the suite: the facts of <c>LockFree.Auth.PropertyTests.State</c> (not the seeded bugs, not opt-in measurements).</summary>
    public static IReadOnlyList<(string Name, Action Run)> Properties()
    {
        var list = new List<(string, Action)>();
        foreach (var type in typeof(SoakRun).Assembly.GetTypes().Where(t => t.Namespace == "LockFree.Auth.PropertyTests.State" && t.IsPublic).OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            foreach (var method in type.GetMethods().Where(m => m.GetCustomAttribute<FactAttribute>() is { Skip: null } && m.GetCustomAttribute<OptInFactAttribute>() is null).OrderBy(m => m.Name, StringComparer.Ordinal))
            {
                list.Add(($"{type.Name}.{method.Name}", () => Invoke(type, method)));
            }
        }

        return list;
    }

    public static SoakReport Run(TimeSpan budget, long iterationsPerRound, string outputDirectory, IReadOnlyList<(string Name, Action Run)> properties, Action<string>? log = null)
    {
        Directory.CreateDirectory(outputDirectory);
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        var stats = properties.Select(p => new SoakProperty(p.Name)).ToArray();
        var previous = Environment.GetEnvironmentVariable("CsCheck_Iter");
        try
        {
            Environment.SetEnvironmentVariable("CsCheck_Iter", iterationsPerRound.ToString(CultureInfo.InvariantCulture));
            var round = 0;
            while (watch.Elapsed < budget && stats.Any(s => s.Failure is null))
            {
                round++;
                for (var i = 0; i < properties.Count && (round == 1 || watch.Elapsed < budget); i++)
                {
                    var stat = stats[i];
                    if (stat.Failure is not null)
                    {
                        continue;
                    }

                    var one = Stopwatch.StartNew();
                    try
                    {
                        properties[i].Run();
                    }
                    catch (Exception ex)
                    {
                        var failure = ex is TargetInvocationException { InnerException: { } inner } ? inner : ex;
                        stat.Failure = failure.Message.Length > 4000 ? failure.Message[..4000] + " …" : failure.Message;
                        stat.Seed = SeedPattern().Match(failure.Message) is { Success: true } m ? m.Groups[1].Value : null;
                        var filter = $"FullyQualifiedName~{properties[i].Name}";
                        stat.Rerun = stat.Seed is null
                            ? $"dotnet test tests/LockFree.Auth.PropertyTests -c Release --filter \"{filter}\""
                            : $"CsCheck_Seed={stat.Seed} dotnet test tests/LockFree.Auth.PropertyTests -c Release --filter \"{filter}\"";
                        log?.Invoke($"FAILED {properties[i].Name} (round {round}, seed {stat.Seed ?? "none"})");
                    }

                    stat.Rounds++;
                    stat.Iterations += iterationsPerRound;
                    stat.Seconds += one.Elapsed.TotalSeconds;
                }

                log?.Invoke($"round {round} done at {watch.Elapsed.TotalSeconds:F0} s");
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("CsCheck_Iter", previous);
        }

        var report = new SoakReport(started, budget.TotalSeconds, watch.Elapsed.TotalSeconds, iterationsPerRound, stats);
        File.WriteAllText(Path.Combine(outputDirectory, "report.json"), JsonSerializer.Serialize(report, JsonOptions));
        File.WriteAllText(Path.Combine(outputDirectory, "report.md"), ToMarkdown(report));
        return report;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static string ToMarkdown(SoakReport report)
    {
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine("# CsCheck soak");
        md.AppendLine();
        md.AppendLine(c, $"Started {report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC; budget {report.BudgetSeconds:F0} s, ran {report.ElapsedSeconds:F0} s; CsCheck_Iter = {report.IterationsPerRound} per property per round (new random seeds every round).");
        md.AppendLine();
        md.AppendLine(c, $"**{report.Failures} failure(s)**; {report.Properties.Count} properties, {report.Properties.Sum(p => p.Iterations):N0} iterations (example-based facts count one round as {report.IterationsPerRound}).");
        md.AppendLine();
        md.AppendLine("| Property | Rounds | Iterations | Time (s) | Result |");
        md.AppendLine("|---|---:|---:|---:|---|");
        foreach (var p in report.Properties)
        {
            md.AppendLine(c, $"| `{p.Name}` | {p.Rounds} | {p.Iterations:N0} | {p.Seconds:F1} | {(p.Failure is null ? "passed" : $"**FAILED** (seed `{p.Seed ?? "none"}`)")} |");
        }

        foreach (var p in report.Properties.Where(p => p.Failure is not null))
        {
            md.AppendLine();
            md.AppendLine(c, $"## `{p.Name}`: seed `{p.Seed ?? "none"}`");
            md.AppendLine();
            md.AppendLine("```");
            md.AppendLine(p.Failure);
            md.AppendLine("```");
            md.AppendLine();
            md.AppendLine("Rerun:");
            md.AppendLine();
            md.AppendLine("```bash");
            md.AppendLine(p.Rerun);
            md.AppendLine("```");
        }

        return md.ToString();
    }

    private static void Invoke(Type type, MethodInfo method)
    {
        var instance = method.IsStatic ? null : type.GetConstructor([typeof(ITestOutputHelper)]) is { } withOutput
            ? withOutput.Invoke([new DiscardingOutput()])
            : Activator.CreateInstance(type);
        try
        {
            if (method.Invoke(instance, null) is Task task)
            {
                task.WaitWithin(TimeSpan.FromMinutes(10));
            }
        }
        finally
        {
            (instance as IDisposable)?.Dispose();
        }
    }

    [GeneratedRegex(@"CsCheck_Seed=(\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex SeedPattern();

    private sealed class DiscardingOutput : ITestOutputHelper
    {
        public void WriteLine(string message)
        {
        }

        public void WriteLine(string format, params object[] args)
        {
        }
    }
}
