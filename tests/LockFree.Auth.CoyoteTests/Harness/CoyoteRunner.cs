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
    long SchedulingSteps,
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
    /// Whether explorations run strict, with partially controlled concurrency disabled (any uncontrolled invocation is
    /// a bug in iteration 1): <c>COYOTE_STRICT</c> = <c>all</c> (the default, set in coyote.runsettings: every scenario,
    /// the core's and the providers') or <c>none</c> (partially controlled: an uncontrolled invocation is listed, and
    /// still fails the scenario test). See spec/coyote.md.
    /// </summary>
    public static bool Strict => Environment.GetEnvironmentVariable("COYOTE_STRICT") != "none";

    /// <summary>
    /// The wall-clock time without progress after which Coyote reports a potential deadlock or hang
    /// (<c>COYOTE_DEADLOCK_TIMEOUT_MS</c>, default 10,000 ms).
    /// </summary>
    public static uint DeadlockTimeoutMilliseconds =>
        uint.TryParse(Environment.GetEnvironmentVariable("COYOTE_DEADLOCK_TIMEOUT_MS"), NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms > 0 ? ms : 10_000;

    /// <summary>The configuration every exploration uses (see spec/coyote.md, "Engine configuration").</summary>
    public static Configuration CreateConfiguration(uint iterations, uint? seed = null, bool strict = true)
    {
        var configuration = Configuration.Create()
            .WithTestingIterations(iterations)
            // Replay must stay exact: never fall back to fuzzing when uncontrolled concurrency shows up.
            .WithSystematicFuzzingFallbackEnabled(false)
            // Strict: an uncontrolled invocation is a bug. Otherwise it is reported (and asserted against an allow-list).
            .WithPartiallyControlledConcurrencyAllowed(!strict)
            .WithPotentialDeadlocksReportedAsBugs(true)
            // The periodic monitor behind "potential deadlock or hang" is wall-clock based (Coyote's default: 1 s
            // without progress). A starved test host (a 10,000-iteration run at nice 15 on a loaded 2-core machine)
            // crossed it once with correct code: the reported trace replayed green (spec/coyote.md, "Long run").
            // Strict mode reports a real deadlock of controlled operations at once, independent of this timeout.
            .WithDeadlockTimeout(DeadlockTimeoutMilliseconds)
            .WithMaxSchedulingSteps(2_000)
            .WithFailureOnMaxStepsBoundEnabled(true);
        if ((seed ?? Seed) is { } s)
        {
            configuration = configuration.WithRandomGeneratorSeed(s);
        }

        return configuration;
    }

    /// <summary>Explores <paramref name="scenario"/>; on a bug, writes <c>{name}.trace</c> and <c>{name}.txt</c>.</summary>
    public static CoyoteResult Explore(string name, Func<Task> scenario, uint? iterations = null, uint? seed = null, Configuration? configuration = null, bool strict = true)
    {
        var n = iterations ?? Iterations;
        configuration ??= CreateConfiguration(n, seed, strict);
        return Run(name, configuration, scenario, n);
    }

    /// <summary>Replays a trace written by <see cref="Explore"/> (one iteration, the recorded schedule).</summary>
    public static CoyoteResult Replay(string name, Func<Task> scenario, string trace, bool strict = true)
    {
        var configuration = CreateConfiguration(1, strict: strict).WithReproducibleTrace(trace);
        return Run(name, configuration, scenario, 1);
    }

    /// <summary>
    /// Runs the scenario: replays <c>COYOTE_REPLAY</c> when that variable names a trace written for
    /// <paramref name="name"/>, explores otherwise; then asserts that no bug was found and nothing ran
    /// outside Coyote's control.
    /// </summary>
    public static CoyoteResult AssertCorrect(string name, Func<Task> scenario, uint? iterations = null)
    {
        // COYOTE_REPEAT explorations in a row in this process (the long-run check of issue 16: no test-host crash across
        // repeated long explorations); the result of the last one is returned, every one must pass.
        CoyoteResult? result = null;
        for (var pass = 1; pass <= Repeat; pass++)
        {
            result = AssertCorrectOnce(name, scenario, iterations);
            if (Repeat > 1)
            {
                Console.WriteLine($"COYOTE-PASS {name} pass={pass}/{Repeat} iterations={result.IterationsRun} seconds={result.Elapsed.TotalSeconds:F1}");
            }
        }

        return result!;
    }

    /// <summary>How many times each scenario test explores (COYOTE_REPEAT, default 1).</summary>
    public static int Repeat =>
        int.TryParse(Environment.GetEnvironmentVariable("COYOTE_REPEAT"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1;

    private static CoyoteResult AssertCorrectOnce(string name, Func<Task> scenario, uint? iterations)
    {
        var strict = Strict;
        var replay = Environment.GetEnvironmentVariable("COYOTE_REPLAY");
        var result = !string.IsNullOrEmpty(replay) && IsTraceOf(replay, name)
            ? Replay(name, scenario, File.ReadAllText(replay), strict)
            : Explore(name, scenario, iterations, strict: strict);
        if (result.BugsFound > 0)
        {
            throw new XunitException(Describe(result));
        }

        if (result.UncontrolledInvocations.Count > 0)
        {
            throw new XunitException($"{name}: uncontrolled invocations Coyote cannot control (see spec/coyote.md): {string.Join(", ", result.UncontrolledInvocations)}");
        }

        return result;
    }

    public static string Describe(CoyoteResult result) =>
        $"""
        Coyote found a bug in '{result.Name}' after {result.IterationsRun} iteration(s) of {result.Iterations}:
        {result.FirstBug}
        Trace: {result.TracePath} (log beside it, .txt)
        Replay this exact schedule:
          {ReplayCommand(result.Name, result.TracePath ?? "<trace>")}
        """;

    /// <summary>
    /// Whether <paramref name="tracePath"/> is a trace of scenario <paramref name="name"/>: its file name is
    /// <c>{name}.trace</c> or <c>{name}@{anything}.trace</c> (the exploration run's traces carry their round).
    /// </summary>
    public static bool IsTraceOf(string tracePath, string name)
    {
        var stem = Path.GetFileNameWithoutExtension(tracePath);
        var at = stem.IndexOf('@', StringComparison.Ordinal);
        return string.Equals(at < 0 ? stem : stem[..at], name, StringComparison.Ordinal);
    }

    /// <summary>
    /// The test filter that runs exactly scenario <paramref name="name"/> (core: <c>ColdStart</c>; providers:
    /// <c>ClientOAuth.ColdCallers</c>; replicas sharing a token: <c>Sharing.ColdStart</c>).
    /// </summary>
    public static string TestFilter(string name)
    {
        var at = name.IndexOf('@', StringComparison.Ordinal);
        var scenario = at < 0 ? name : name[..at];
        if (scenario.StartsWith("Sharing.", StringComparison.Ordinal))
        {
            return $"FullyQualifiedName~SharingScenarioTests.{scenario.Replace('.', '_')}_";
        }

        return scenario.Contains('.', StringComparison.Ordinal)
            ? $"FullyQualifiedName~ProviderScenarioTests.{scenario.Replace('.', '_')}_"
            : $"FullyQualifiedName~CoordinatorScenarioTests.{scenario}_";
    }

    /// <summary>The command that replays <paramref name="tracePath"/> (one iteration, the recorded schedule) in the scenario's own test.</summary>
    public static string ReplayCommand(string name, string tracePath) =>
        $"COYOTE_REPLAY={tracePath} dotnet test tests/LockFree.Auth.CoyoteTests -c Release --settings coyote.runsettings --filter \"{TestFilter(name)}\"";

    /// <summary>
    /// Fail fast: the longest an exploration may go without finishing an iteration (COYOTE_STALL_SECONDS, default 120 s).
    /// Coyote reports hangs of controlled code itself; this bounds what it cannot see (an uncontrolled wait that never
    /// returns inside an iteration, or the engine itself).
    /// </summary>
    public static TimeSpan StallBound =>
        TimeSpan.FromSeconds(uint.TryParse(Environment.GetEnvironmentVariable("COYOTE_STALL_SECONDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 120);

    /// <summary>
    /// Runs the engine on its own thread and waits for it with a progress bound: every finished iteration resets the
    /// bound. A stalled exploration is stopped and fails with a <see cref="HangException"/> naming the scenario and the
    /// iteration that did not finish.
    /// </summary>
    internal static void RunWatched(string name, TestingEngine engine, TimeSpan? stallBound = null)
    {
        long finished = 0;
        long current = 0;
        engine.RegisterStartIterationCallBack(i => Interlocked.Exchange(ref current, i + 1L));
        engine.RegisterEndIterationCallBack(_ => Interlocked.Increment(ref finished));
        RunWatched(name, engine.Run, () => Interlocked.Read(ref finished), () => Interlocked.Read(ref current), engine.Stop, stallBound ?? StallBound);
    }

    /// <summary>The watchdog of <see cref="RunWatched(string, TestingEngine, TimeSpan?)"/>, over any run that reports progress.</summary>
    internal static void RunWatched(string name, Action run, Func<long> finished, Func<long> current, Action stop, TimeSpan bound)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                run();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        {
            IsBackground = true,
            Name = "coyote-" + name,
        };
        thread.Start();
        var seen = 0L;
        while (!thread.Join(bound))
        {
            var now = finished();
            if (now == seen)
            {
                stop();
                thread.Join(TimeSpan.FromSeconds(5));
                throw new HangException(
                    $"Coyote exploration '{name}' finished no iteration for {bound.TotalSeconds:0.###} s (stuck in iteration {current()} after {now} finished): " +
                    "something in the scenario waits outside Coyote's control, or an iteration never ends. Bound: COYOTE_STALL_SECONDS.");
            }

            seen = now;
        }

        if (failure is not null)
        {
            throw new InvalidOperationException($"Coyote exploration '{name}' failed: {failure.Message}", failure);
        }
    }

    private static CoyoteResult Run(string name, Configuration configuration, Func<Task> scenario, uint iterations)
    {
        var watch = Stopwatch.StartNew();
        using var engine = TestingEngine.Create(configuration, scenario);
        RunWatched(name, engine);
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
            report.TotalExploredFairSteps + report.TotalExploredUnfairSteps,
            [.. report.UncontrolledInvocations],
            watch.Elapsed,
            tracePath,
            trace);
    }
}
