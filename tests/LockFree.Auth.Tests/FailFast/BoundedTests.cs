using System.Diagnostics;

namespace LockFree.Auth.Tests.FailFast;

/// <summary>The fail-fast helper (tests/Shared/Bounded.cs) fails a hang by name, and only a hang.</summary>
public sealed class BoundedTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task Within_NeverCompletingSharedWork_FailsFastNamingTheExpressionAndLine()
    {
        var never = new TaskCompletionSource<string>();
        var watch = Stopwatch.StartNew();

        var hang = await Assert.ThrowsAsync<HangException>(() => never.Task.Within(Short));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        Assert.Contains("`never.Task`", hang.Message);
        Assert.Contains("BoundedTests.cs:", hang.Message);
        Assert.Contains("within 0.2 s", hang.Message);
    }

    [Fact]
    public async Task Within_NonGenericNeverCompleting_FailsFast()
    {
        var never = new TaskCompletionSource();
        var hang = await Assert.ThrowsAsync<HangException>(() => never.Task.Within(Short));
        Assert.Contains("`never.Task`", hang.Message);
    }

    [Fact]
    public void ResultWithin_NeverCompleting_FailsFastNamingTheExpression()
    {
        var never = new TaskCompletionSource<int>();
        var hang = Assert.Throws<HangException>(() => never.Task.ResultWithin(Short));
        Assert.Contains("`never.Task`", hang.Message);
        Assert.Throws<HangException>(() => ((Task)never.Task).WaitWithin(Short));
    }

    [Fact]
    public async Task Within_WorkThatFailsWithItsOwnTimeout_SurfacesThatFailureNotAHang()
    {
        // A TimeoutException of the awaited work is its own outcome; only the bound elapsing is a hang.
        var failed = Task.FromException<int>(new TimeoutException("the work's own"));
        var own = await Assert.ThrowsAsync<TimeoutException>(() => failed.Within(Short));
        Assert.Equal("the work's own", own.Message);
        Assert.Equal("the work's own", Assert.Throws<TimeoutException>(() => failed.ResultWithin(Short)).Message);

        var cancelled = Task.FromCanceled<int>(new CancellationToken(canceled: true));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.Within(Short));
    }

    [Fact]
    public async Task Within_WorkCompletingLater_ReturnsItsResult()
    {
        var later = new TaskCompletionSource<int>();
        var waiting = later.Task.Within(TimeSpan.FromSeconds(30));
        _ = Task.Run(() => later.SetResult(42));
        Assert.Equal(42, await waiting);
        Assert.Equal(42, later.Task.ResultWithin());
    }

    [Fact]
    public void HangException_IsNotATimeoutException()
    {
        // Otherwise Assert.ThrowsAsync<TimeoutException>(() => work.Within()) would pass on a hang.
        Assert.False(typeof(TimeoutException).IsAssignableFrom(typeof(HangException)));
    }

    /// <summary>
    /// Deliberately hangs WITHOUT the helper, to show that .ci/test's hang timeout kills the test host and names this
    /// test. Kept out of CI: runs only with LOCKFREE_DEMO_HANG=1 (see spec/fail-fast.md).
    /// </summary>
    [Fact]
    public async Task Demo_UnboundedHang_IsKilledAndNamedByTheCiHangTimeout()
    {
        if (Environment.GetEnvironmentVariable("LOCKFREE_DEMO_HANG") != "1")
        {
            return;
        }

        await new TaskCompletionSource().Task; // never completes: the hang the blame collector must name
    }
}
