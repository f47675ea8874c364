using System.Diagnostics;
using System.Globalization;
using Microsoft.Coyote;
using Microsoft.Coyote.SystematicTesting;
using Xunit.Sdk;

namespace LockFree.Auth.CoyoteTests.Harness;

/// <summary>The outcome of one Coyote exploration.</summary>
internal sealed record CoyoteResult(
    string Name,
    uint Iterations,
    int BugsFound,
    IReadOnlyList<string> BugReports,
    int IterationsRun,
    IReadOnlyList<string> UncontrolledInvocations,
    TimeSpan Elapsed,
    string? TracePath,
    string? Trace)
{
    public string FirstBug => BugReports.Count > 0 ? BugReports[0] : "";
}

/// <summary>
/// Runs a scenario under Coyote's <see cref="TestingEngine"/> in-process, writes traces of found bugs under
/// <c>TestResults/coyote/</c> and turns the outcome into xunit assertions.
/// </summary>
internal static class CoyoteRunner
{
    /// <summary>Iterations per scenario: COYOTE_ITERATIONS (set by coyote.runsettings), default 200.</summary>
    public static uint Iterations =>
        uint.TryParse(Environment.GetEnvironmentVariable("COYOTE_ITERATIONS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 200;

    /// <summary>Optional fixed seed for explorations (COYOTE_SEED); by default Coyote picks one.</summary>
    public static uint? Seed =>
        uint.TryParse(Environment.GetEnvironmentVariable("COYOTE_SEED"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : null;

    /// <summary>The directory traces and logs go to: TestResults/coyote under the repository root.</summary>
    public static string ResultsDirectory
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "coyote.runsettings")) && !Directory.Exists(Path.Combine(dir.FullName, ".git")) && !File.Exists(Path.Combine(dir.FullName, ".git")))
            {
                dir = dir.Parent;
            }

            var root = dir?.FullName ?? Directory.GetCurrentDirectory();
            var path = Path.Combine(root, "TestResults", "coyote");
            Directory.CreateDirectory(path);
            return path;
        }
    }

    /// <summary>
    /// Invocations Coyote does not intercept that the suite accepts, each justified in spec/coyote.md. Anything else
    /// fails the scenario test.
    /// </summary>
    public static readonly IReadOnlyList<string> KnownUncontrolled =
    [
        "System.Threading.Tasks.Task.RunSynchronously",
        "System.Threading.Tasks.Task.WaitAsync",
    ];

    /// <summary>
    /// Also accepted in the provider scenarios: the providers take an <see cref="HttpClient"/>, whose pipeline (not
    /// rewritten) sits between the provider and the fake back end (spec/coyote.md, "Providers").
    /// </summary>
    public static readonly IReadOnlyList<string> HttpClientUncontrolled =
    [
        "System.Net.Http.HttpClient.GetAsync",
        "System.Net.Http.HttpClient.SendAsync",
    ];

    /// <summary>The configuration every exploration uses (see spec/coyote.md, "Engine configuration").</summary>
    public static Configuration CreateConfiguration(uint iterations, uint? seed = null)
    {
        var configuration = Configuration.Create()
            .WithTestingIterations(iterations)
            // Replay must stay exact: never fall back to fuzzing when uncontrolled concurrency shows up.
            .WithSystematicFuzzingFallbackEnabled(false)
            // Uncontrolled concurrency is reported (and asserted empty by every scenario test), not tolerated silently.
            .WithPartiallyControlledConcurrencyAllowed(Environment.GetEnvironmentVariable("COYOTE_STRICT") != "1")
            .WithPotentialDeadlocksReportedAsBugs(true)
            .WithMaxSchedulingSteps(2_000)
            .WithFailureOnMaxStepsBoundEnabled(true);
        if ((seed ?? Seed) is { } s)
        {
            configuration = configuration.WithRandomGeneratorSeed(s);
        }

        return configuration;
    }

    /// <summary>Explores <paramref name="scenario"/>; on a bug, writes <c>{name}.trace</c> and <c>{name}.txt</c>.</summary>
    public static CoyoteResult Explore(string name, Func<Task> scenario, uint? iterations = null, uint? seed = null, Configuration? configuration = null)
    {
        var n = iterations ?? Iterations;
        configuration ??= CreateConfiguration(n, seed);
        return Run(name, configuration, scenario, n);
    }

    /// <summary>Replays a trace written by <see cref="Explore"/> (one iteration, the recorded schedule).</summary>
    public static CoyoteResult Replay(string name, Func<Task> scenario, string trace)
    {
        var configuration = CreateConfiguration(1).WithReproducibleTrace(trace);
        return Run(name, configuration, scenario, 1);
    }

    /// <summary>
    /// Runs the scenario: replays <c>COYOTE_REPLAY</c> when that variable names a trace written for
    /// <paramref name="name"/>, explores otherwise; then asserts that no bug was found and nothing ran
    /// outside Coyote's control.
    /// </summary>
    public static CoyoteResult AssertCorrect(string name, Func<Task> scenario, uint? iterations = null, IReadOnlyList<string>? alsoUncontrolled = null)
    {
        var replay = Environment.GetEnvironmentVariable("COYOTE_REPLAY");
        var result = !string.IsNullOrEmpty(replay) && Path.GetFileNameWithoutExtension(replay) == name
            ? Replay(name, scenario, File.ReadAllText(replay))
            : Explore(name, scenario, iterations);
        if (result.BugsFound > 0)
        {
            throw new XunitException(Describe(result));
        }

        var unexpected = result.UncontrolledInvocations.Except(KnownUncontrolled.Concat(alsoUncontrolled ?? []), StringComparer.Ordinal).ToArray();
        if (unexpected.Length > 0)
        {
            throw new XunitException($"{name}: uncontrolled invocations Coyote cannot control (see spec/coyote.md): {string.Join(", ", unexpected)}");
        }

        return result;
    }

    public static string Describe(CoyoteResult result) =>
        $"""
        Coyote found a bug in '{result.Name}' after {result.IterationsRun} iteration(s) of {result.Iterations}:
        {result.FirstBug}
        Trace: {result.TracePath} (log beside it, .txt)
        Replay this exact schedule:
          COYOTE_REPLAY={result.TracePath} dotnet test tests/LockFree.Auth.CoyoteTests -c Release --settings coyote.runsettings --filter "FullyQualifiedName~{result.Name}"
        """;

    private static CoyoteResult Run(string name, Configuration configuration, Func<Task> scenario, uint iterations)
    {
        var watch = Stopwatch.StartNew();
        using var engine = TestingEngine.Create(configuration, scenario);
        engine.Run();
        watch.Stop();
        var report = engine.TestReport;
        string? tracePath = null;
        string? trace = null;
        if (report.NumOfFoundBugs > 0)
        {
            var dir = ResultsDirectory;
            trace = engine.ReproducibleTrace;
            tracePath = Path.Combine(dir, name + ".trace");
            File.WriteAllText(tracePath, trace);
            File.WriteAllText(Path.Combine(dir, name + ".txt"), engine.ReadableTrace ?? string.Join(Environment.NewLine, report.BugReports));
        }

        var run = report.NumOfExploredFairPaths + report.NumOfExploredUnfairPaths;
        return new CoyoteResult(
            name,
            iterations,
            report.NumOfFoundBugs,
            [.. report.BugReports],
            run,
            [.. report.UncontrolledInvocations],
            watch.Elapsed,
            tracePath,
            trace);
    }
}
