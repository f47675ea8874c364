using LockFree.Auth.CoyoteTests.Harness;

namespace LockFree.Auth.CoyoteTests;

/// <summary>
/// Strict mode can fail: with partially controlled concurrency disabled, the two constructs the core used before it
/// was made strict-clean (spec/coyote.md) are reported as bugs in iteration 1, and the same scenarios explored by the
/// default (partially controlled) configuration only list them as uncontrolled invocations.
/// </summary>
[Collection(CoyoteSerial.Name)]
public sealed class StrictModeTests
{
    [Fact]
    public void Strict_RunSynchronouslyOfAColdTask_IsABugInIterationOne()
    {
        static Task Scenario()
        {
            var cold = new Task<int>(static () => 1);
            cold.RunSynchronously(TaskScheduler.Default); // the core's former start of its acquisition
            return cold;
        }

        var strict = CoyoteRunner.Explore("strict-RunSynchronously", Scenario, iterations: 10, strict: true);
        Assert.Equal(1, strict.BugsFound);
        Assert.Equal(1, strict.IterationsRun);
        Assert.Contains("RunSynchronously", strict.FirstBug);
        Assert.Contains("not intercepted", strict.FirstBug);

        var partial = CoyoteRunner.Explore("partial-RunSynchronously", Scenario, iterations: 10, strict: false);
        Assert.Equal(0, partial.BugsFound);
        Assert.Contains("System.Threading.Tasks.Task.RunSynchronously", partial.UncontrolledInvocations);
    }

    [Fact]
    public void Strict_WaitAsyncWithACancellationToken_IsABugInIterationOne()
    {
        static async Task Scenario()
        {
            using var cts = new CancellationTokenSource();
            var done = new TaskCompletionSource();
            var wait = done.Task.WaitAsync(cts.Token); // the core's former cancellable wait
            done.SetResult();
            await wait;
        }

        var strict = CoyoteRunner.Explore("strict-WaitAsync", Scenario, iterations: 10, strict: true);
        Assert.Equal(1, strict.BugsFound);
        Assert.Contains("WaitAsync", strict.FirstBug);
    }
}

/// <summary>The end-of-scenario ownership check can fail: work left pending when a scenario ends is reported.</summary>
[Collection(CoyoteSerial.Name)]
public sealed class ScenarioOwnershipTests
{
    [Fact]
    public void Drain_RequestLeftPendingAtTheEnd_IsABug()
    {
        static async Task Scenario()
        {
            var clock = new ControlledClock();
            var server = new TokenServer(clock) { AutoRespond = false };
            var coordinator = new AuthCoordinator<TokenContainer>(server.AcquireAsync, null, clock, World.Options);
            _ = coordinator.GetAsync(); // started, never answered, never cancelled: it would outlive the iteration
            await server.DrainAsync();
        }

        var result = CoyoteRunner.Explore("ownership-PendingRequest", Scenario, iterations: 10);
        Assert.Equal(1, result.BugsFound);
        Assert.Contains("still pending when the scenario ended", result.FirstBug);
    }
}
