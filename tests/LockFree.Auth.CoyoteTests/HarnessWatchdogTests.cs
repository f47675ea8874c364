using LockFree.Auth.CoyoteTests.Harness;

namespace LockFree.Auth.CoyoteTests;

/// <summary>Fail fast in the Coyote harness: an exploration that stops making progress is reported by name, not waited on.</summary>
[Collection(CoyoteSerial.Name)]
public sealed class HarnessWatchdogTests
{
    [Fact]
    public void RunWatched_ExplorationStopsFinishingIterations_FailsFastNamingScenarioAndIteration()
    {
        using var release = new ManualResetEventSlim();
        long finished = 0;
        var stopped = false;
        var hang = Assert.Throws<HangException>(() => CoyoteRunner.RunWatched(
            "Stalled",
            () =>
            {
                Interlocked.Increment(ref finished); // iteration 1 finishes, iteration 2 never does
                release.Wait(TimeSpan.FromSeconds(30));
            },
            () => Interlocked.Read(ref finished),
            () => 2,
            () =>
            {
                stopped = true;
                release.Set();
            },
            TimeSpan.FromMilliseconds(300)));

        Assert.True(stopped, "The stalled engine was not asked to stop.");
        Assert.Contains("'Stalled'", hang.Message);
        Assert.Contains("stuck in iteration 2 after 1 finished", hang.Message);
    }

    [Fact]
    public void RunWatched_ExplorationMakingProgress_IsNotStopped()
    {
        long finished = 0;
        CoyoteRunner.RunWatched(
            "Progressing",
            () =>
            {
                for (var i = 0; i < 60; i++)
                {
                    Thread.Sleep(50); // each "iteration" is much shorter than the bound, the whole run longer
                    Interlocked.Increment(ref finished);
                }
            },
            () => Interlocked.Read(ref finished),
            () => 0,
            () => Assert.Fail("stopped although it made progress"),
            TimeSpan.FromSeconds(2));
        Assert.Equal(60, Interlocked.Read(ref finished));
    }
}
