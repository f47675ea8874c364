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
