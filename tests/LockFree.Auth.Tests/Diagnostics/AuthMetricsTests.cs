using System.Diagnostics.Metrics;
using LockFree.Auth.Tests.State;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.Diagnostics;

public sealed class AuthMetricsTests
{
    [Fact]
    public async Task Meter_ReportsStartedCoalescedInvalidatedFailed_TaggedWithCoordinatorName()
    {
        var name = "metrics-test-" + Guid.NewGuid().ToString("N");
        var totals = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == AuthMetrics.MeterName) { l.EnableMeasurementEvents(instrument); }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == AuthMetrics.CoordinatorTag && (string?)tag.Value == name)
                {
                    lock (totals) { totals[instrument.Name] = totals.GetValueOrDefault(instrument.Name) + value; }
                }
            }
        });
        listener.Start();

        var time = new FakeTimeProvider();
        var acquirer = new TestAcquirer(time, TimeSpan.FromHours(1));
        using var coordinator = acquirer.CreateCoordinator(new AuthCoordinatorOptions { Name = name });
        var waiters = Enumerable.Range(0, 5).Select(_ => coordinator.GetAsync()).ToArray();
        acquirer.Last.Fail(new InvalidOperationException());
        await Assert.ThrowsAsync<InvalidOperationException>(() => waiters[0]);
        var next = coordinator.GetAsync();
        acquirer.Last.Complete();
        await next;
        coordinator.Invalidate();

        Assert.Equal(2, totals["lockfree.auth.acquisitions.started"]);
        Assert.Equal(4, totals["lockfree.auth.callers.coalesced"]);
        Assert.Equal(1, totals["lockfree.auth.acquisitions.failed"]);
        Assert.Equal(1, totals["lockfree.auth.invalidations"]);
    }
}
