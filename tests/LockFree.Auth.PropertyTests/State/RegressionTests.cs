using LockFree.Auth.PropertyTests.Support;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.PropertyTests.State;

/// <summary>Example-based anchors for what the properties found in the core, one minimal repro each.</summary>
public sealed class RegressionTests
{
    /// <summary>
    /// Found by the model-based property's coverage of "already expired on arrival" during refresh-ahead: a background
    /// refresh whose result is already unusable used to clear the cache, dropping the value being refreshed although
    /// it was still usable, so callers waited for a new acquisition that refresh-ahead exists to avoid.
    /// </summary>
    [Fact]
    public void Publish_BackgroundRefreshResultExpiredOnArrival_KeepsServingPreviousValueAndRetriesLater() =>
        NoSynchronizationContext.Run(static _ => BackgroundRefreshResultExpiredOnArrival(), 0);

    // Runs with no SynchronizationContext, so completing a gate has published when Complete returns (see NoSynchronizationContext).
    private static void BackgroundRefreshResultExpiredOnArrival()
    {
        var time = new FakeTimeProvider(Step.Origin);
        var acquirer = new ScriptedAcquirer("a", time, observesCancellation: true);
        using var coordinator = acquirer.CreateCoordinator(Step.Options());

        var first = coordinator.GetAsync();
        var a1 = acquirer.Open[0].Complete(TimeSpan.FromHours(1)); // usable until 00:59:30, refresh from 00:58:00
        Assert.Same(a1, first.ResultWithin());
        time.Advance(TimeSpan.FromMinutes(58));
        Assert.Same(a1, coordinator.GetAsync().ResultWithin()); // starts the background refresh, served at once
        Assert.Equal(2, acquirer.Started);

        time.Advance(TimeSpan.FromSeconds(45));
        acquirer.Open[0].Complete(TimeSpan.FromSeconds(2)); // issued at 00:58:00, expired on arrival at 00:58:45

        var snapshot = coordinator.Current;
        Assert.Same(a1, snapshot.Value);
        Assert.False(snapshot.IsAcquiring);
        Assert.Null(snapshot.FindInvariantViolation());
        var served = coordinator.GetAsync();
        Assert.True(served.IsCompletedSuccessfully);
        Assert.Same(a1, served.ResultWithin());
        Assert.Equal(2, acquirer.Started);

        // The refresh is retried after RefreshRetryDelay, from the value still in use.
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Same(a1, coordinator.GetAsync().ResultWithin());
        Assert.Equal(3, acquirer.Started);
        Assert.Same(a1, acquirer.Gates[^1].Context.Previous);
        Assert.True(acquirer.Gates[^1].Context.IsBackgroundRefresh);
    }
}
