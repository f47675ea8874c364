using LockFree.Auth.CoyoteTests.Harness;
using LockFree.Auth.CoyoteTests.Scenarios;
using LockFree.Auth.CoyoteTests.SeededBugs;
using Xunit.Abstractions;

namespace LockFree.Auth.CoyoteTests;

/// <summary>
/// The suite can fail: Coyote must find every seeded bug, with the expected bug text, for each of 10 fixed seeds;
/// the number of iterations it needed is printed (median reported in spec/coyote.md). A found bug's trace replays
/// it in iteration 1.
/// </summary>
[Collection(CoyoteSerial.Name)]
public sealed class SeededBugTests(ITestOutputHelper output)
{
    private const uint MaxIterations = 10_000;
    private static readonly uint[] Seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    public static TheoryData<string> Bugs => SeededBugCatalog.Names();

    [Theory]
    [MemberData(nameof(Bugs))]
    public void SeededBug_ExploredWithTenSeeds_FoundWithExpectedTextEveryTime(string name)
    {
        var bug = SeededBugCatalog.All[name];
        var needed = new List<int>();
        foreach (var seed in Seeds)
        {
            var result = CoyoteRunner.Explore($"seeded-{name}-seed{seed}", bug.Scenario, MaxIterations, seed);
            Assert.True(result.BugsFound > 0, $"Coyote did not find seeded bug '{name}' ({bug.Description}) in {MaxIterations} iterations with seed {seed}.");
            Assert.Matches(bug.ExpectedBug, result.FirstBug);
            Assert.NotNull(result.TracePath);
            Assert.True(File.Exists(result.TracePath), $"No trace written for {name}.");
            needed.Add(result.IterationsRun);
        }

        needed.Sort();
        var median = (needed[4] + needed[5]) / 2.0;
        output.WriteLine($"{name}: iterations to find over seeds 1..10 = [{string.Join(", ", needed)}], median {median}");
        Console.WriteLine($"COYOTE-SEEDED {name} median={median} iterations=[{string.Join(",", needed)}]");
    }

    [Theory]
    [MemberData(nameof(Bugs))]
    public void SeededBug_ReplayTrace_ReproducesSameBugInFirstIteration(string name)
    {
        var bug = SeededBugCatalog.All[name];
        var found = CoyoteRunner.Explore($"replay-{name}", bug.Scenario, MaxIterations, seed: 1);
        Assert.True(found.BugsFound > 0, $"Seeded bug '{name}' not found; nothing to replay.");

        for (var attempt = 0; attempt < 5; attempt++)
        {
            var replayed = CoyoteRunner.Replay($"replayed-{name}", bug.Scenario, File.ReadAllText(found.TracePath!));
            Assert.True(replayed.BugsFound == 1, $"Replay {attempt + 1} of {found.TracePath} did not reproduce '{name}'.");
            Assert.Equal(1, replayed.IterationsRun);
            Assert.Equal(found.FirstBug, replayed.FirstBug);
        }
    }

    [Fact]
    public void SeededCoordinatorCopy_WithoutEdit_PassesTheScenariosItsBugsAreTestedWith()
    {
        // Control: the copy of the algorithm is faithful; only the marked edits make the seeded-bug tests fail.
        CoyoteRunner.AssertCorrect("control-InvalidateDuringAcquisition", () => CoordinatorScenarios.InvalidateDuringAcquisition(
            new World(CoordinatorScenarios.Lifetime, static w => new SeededCoordinator(w.Server, CoordinatorBug.None))));
        CoyoteRunner.AssertCorrect("control-FirstCallerCancelled", () => CoordinatorScenarios.FirstCallerCancelled(
            new World(CoordinatorScenarios.Lifetime, static w => new SeededCoordinator(w.Server, CoordinatorBug.None))));
        CoyoteRunner.AssertCorrect("control-ColdStart", () => CoordinatorScenarios.ColdStart(
            new World(CoordinatorScenarios.Lifetime, static w => new SeededCoordinator(w.Server, CoordinatorBug.None)), 3));
    }

    [Fact]
    public void FailureMessage_OnFoundBug_NamesTraceAndReplayCommand()
    {
        var found = CoyoteRunner.Explore("message-NonAtomicCas", SeededBugCatalog.All["NonAtomicCas"].Scenario, MaxIterations, seed: 1);
        var message = CoyoteRunner.Describe(found);
        Assert.Contains(found.TracePath!, message);
        Assert.Contains("COYOTE_REPLAY=", message);
        Assert.Contains(found.FirstBug, message);
    }
}
