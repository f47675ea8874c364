using System.Reflection;
using LockFree.Auth.CoyoteTests.Harness;
using LockFree.Auth.CoyoteTests.Scenarios;
using LockFree.Auth.CoyoteTests.SeededBugs;
using Xunit.Abstractions;

namespace LockFree.Auth.CoyoteTests;

/// <summary>
/// The time-budgeted exploration run (eng/explore.sh coyote --budget …; spec/exploration-runs.md), and the checks that
/// it covers every scenario, reports what it explored and fails with a replayable trace on a bug.
/// </summary>
[Collection(CoyoteSerial.Name)]
public sealed class ExplorationRunTests(ITestOutputHelper output)
{
    /// <summary>The run itself: only when COYOTE_EXPLORE_SECONDS is set (eng/explore.sh sets it); fails on any bug.</summary>
    [Fact]
    public void Explore_EveryScenarioRoundRobinWithinTheBudget_NoBug()
    {
        if (ExplorationRunOptions.FromEnvironment() is not { } options)
        {
            return; // not an exploration run
        }

        // COYOTE_EXPLORE_INCLUDE_SEEDED=<seeded bug> adds a seeded bug to the run: shows the whole chain (report, trace,
        // non-zero exit of eng/explore.sh) failing on a bug.
        var catalog = ScenarioCatalog.All.ToList();
        if (Environment.GetEnvironmentVariable("COYOTE_EXPLORE_INCLUDE_SEEDED") is { Length: > 0 } seeded)
        {
            catalog.Add(("seeded." + seeded, SeededBugCatalog.All[seeded].Scenario));
        }

        var report = ExplorationRun.Run(options, catalog, line =>
        {
            output.WriteLine(line);
            Console.WriteLine($"EXPLORE {line}");
        });
        Console.WriteLine($"EXPLORE report: {Path.Combine(options.OutputDirectory, "report.md")} ({report.Iterations} iterations, {report.SchedulingDecisions} scheduling decisions, {report.Bugs.Count} bug(s), {report.ElapsedSeconds:F0} s)");
        Assert.True(report.Bugs.Count == 0, string.Join(Environment.NewLine, report.Bugs.Select(b => $"{b.Scenario}: {b.Text}{Environment.NewLine}  replay: {b.Replay}")));
    }

    [Fact]
    public void Catalog_NamesEveryScenarioTestAndNothingElse()
    {
        var tests = new[] { typeof(CoordinatorScenarioTests), typeof(ProviderScenarioTests), typeof(SharingScenarioTests) }
            .SelectMany(t => t.GetMethods().Where(m => m.GetCustomAttribute<FactAttribute>() is not null).Select(m => $"{t.Name}.{m.Name}"))
            .ToArray();
        foreach (var test in tests)
        {
            Assert.Single(ScenarioCatalog.All, c => (test + "_").Contains(CoyoteRunner.TestFilter(c.Name)["FullyQualifiedName~".Length..], StringComparison.Ordinal));
        }

        Assert.Equal(tests.Length, ScenarioCatalog.All.Count);
        Assert.Equal(ScenarioCatalog.All.Count, ScenarioCatalog.All.Select(c => c.Name).Distinct().Count());
    }

    [Fact]
    public void Run_SeededBugAmongCorrectScenarios_ReportsItWithAReplayableTraceAndKeepsExploringTheOthers()
    {
        var dir = Path.Combine(CoyoteRunner.ResultsDirectory, "exploration-selftest");
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }

        var catalog = new List<(string Name, Func<Task> Scenario)>
        {
            ("ColdStart", CoordinatorScenarios.ColdStart),
            ("ConditionalInvalidationStorm", SeededBugCatalog.All["BlindInvalidation"].Scenario), // broken variant under a real scenario's name
        };
        var report = ExplorationRun.Run(new ExplorationRunOptions(TimeSpan.FromSeconds(4), 50, 1, dir), catalog);

        var bug = Assert.Single(report.Bugs);
        Assert.Equal("ConditionalInvalidationStorm", bug.Scenario);
        Assert.Matches(SeededBugCatalog.All["BlindInvalidation"].ExpectedBug, bug.Text);
        Assert.True(File.Exists(bug.Trace));
        Assert.Contains("COYOTE_REPLAY=", bug.Replay);
        Assert.Contains("CoordinatorScenarioTests.ConditionalInvalidationStorm_", bug.Replay);
        Assert.True(CoyoteRunner.IsTraceOf(bug.Trace, "ConditionalInvalidationStorm"));

        var cold = report.Scenarios.Single(s => s.Name == "ColdStart");
        Assert.True(cold.Rounds >= 2 && cold.Iterations == cold.Rounds * 50L && cold.SchedulingDecisions > cold.Iterations, $"{cold.Rounds} rounds, {cold.Iterations} iterations, {cold.SchedulingDecisions} decisions");
        Assert.Equal(1, report.Scenarios.Single(s => s.Name == "ConditionalInvalidationStorm").Rounds); // not explored after its bug

        var replayed = CoyoteRunner.Replay("replay-selftest", SeededBugCatalog.All["BlindInvalidation"].Scenario, File.ReadAllText(bug.Trace));
        Assert.Equal(bug.Text, replayed.FirstBug);

        var md = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("**1 bug(s)**", md);
        Assert.Contains(bug.Replay, md);
        Assert.Contains("\"schedulingDecisions\"", File.ReadAllText(Path.Combine(dir, "report.json")));
    }
}
