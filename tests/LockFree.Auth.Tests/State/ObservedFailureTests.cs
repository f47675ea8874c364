using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.State;

/// <summary>
/// I5 for failures nobody waits for: every acquisition's shared task is observed (no
/// <see cref="TaskScheduler.UnobservedTaskException"/>), counted with its background flag, and reported through
/// <see cref="AuthCoordinator{T}.OnAcquisitionFailed"/>.
/// </summary>
public sealed class ObservedFailureTests
{

    public enum Unwaited
    {
        BackgroundRefresh,
        ForegroundAllWaitersLeft,
    }

    [Theory]
    [InlineData(Unwaited.BackgroundRefresh)]
    [InlineData(Unwaited.ForegroundAllWaitersLeft)]
    public async Task FailureNobodyWaitsFor_AfterGcAndFinalizers_RaisesNoUnobservedTaskException(Unwaited kind)
    {
        // Other tests run in parallel: only exceptions carrying this test's markers count.
        var marker = $"unwaited-{kind}-{Guid.NewGuid():N}";
        var control = $"control-{Guid.NewGuid():N}";
        var seen = new ConcurrentBag<string>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
        {
            foreach (var ex in e.Exception.Flatten().InnerExceptions)
            {
                if (ex.Message == marker || ex.Message == control) { seen.Add(ex.Message); }
            }
        }

        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            var reported = await FailWithNobodyWaitingAsync(kind, marker).Within();
            Assert.Equal([(marker, kind == Unwaited.BackgroundRefresh)], reported);
            DropUnobservedFaultedTask(control); // proves that this process does raise the event for an unobserved task

            // Until the control is seen, then a few more full rounds: a task that completed earlier (older
            // generation, finalizer chain through its exception holder) can be reported a round or two later.
            for (int i = 0, after = 0; i < 40 && after < 5; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                if (seen.Contains(control)) { after++; }
            }

            Assert.True(seen.Contains(control), "The control task's unobserved exception was not raised: the check below would prove nothing.");
            Assert.False(seen.Contains(marker), $"The failed acquisition ({kind}) raised TaskScheduler.UnobservedTaskException.");
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }
    }

    [Fact]
    public async Task OnAcquisitionFailed_ForegroundAndBackgroundFailures_ReportedOnceEachWithTheirKind()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var acquirer = new TestAcquirer(time, TimeSpan.FromSeconds(100));
        var reported = new ConcurrentQueue<(Exception Exception, bool Background)>();
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, time)
        {
            OnAcquisitionFailed = (e, background) => reported.Enqueue((e, background)),
        };

        var foreground = new InvalidOperationException("foreground failed");
        var waiter = coordinator.GetAsync();
        acquirer.Last.Fail(foreground);
        Assert.Same(foreground, await Assert.ThrowsAsync<InvalidOperationException>(() => waiter.Within()));

        var next = coordinator.GetAsync();
        var token = acquirer.Last.Complete();
        Assert.Same(token, await next.Within());
        time.Advance(TimeSpan.FromSeconds(80));
        Assert.Same(token, await coordinator.GetAsync().Within()); // starts the background refresh
        var background = new HttpRequestException("refresh failed");
        acquirer.Last.Fail(background);

        Assert.Equal([(foreground, false), (background, true)], reported.Select(r => (r.Exception, r.Background)));
        Assert.Equal(2, coordinator.Statistics.Failed);
    }

    [Fact]
    public async Task OnAcquisitionFailed_WorkCancelledByTheCoordinator_NotReported()
    {
        var time = new FakeTimeProvider();
        var acquirer = new TestAcquirer(time, TimeSpan.FromHours(1));
        var reported = 0;
        var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, time)
        {
            OnAcquisitionFailed = (_, _) => Interlocked.Increment(ref reported),
        };

        using (var cts = new CancellationTokenSource())
        {
            var leaving = coordinator.GetAsync(cts.Token);
            await cts.CancelAsync(); // the only waiter leaves: the coordinator cancels the work
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving.Within());
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => acquirer.Last.Task.Within());
        }

        var disposedWhileRunning = coordinator.GetAsync();
        coordinator.Dispose();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => disposedWhileRunning.Within());

        Assert.Equal(0, Volatile.Read(ref reported));
        Assert.Equal(2, coordinator.Statistics.Failed); // still counted
    }

    [Fact]
    public async Task OnAcquisitionFailed_CallbackThrows_WaitersStillSeeTheAcquisitionsOwnException()
    {
        var time = new FakeTimeProvider();
        var acquirer = new TestAcquirer(time, TimeSpan.FromHours(1));
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, time)
        {
            OnAcquisitionFailed = (_, _) => throw new InvalidOperationException("log sink broken"),
        };

        var waiter = coordinator.GetAsync();
        var failure = new TimeoutException("token endpoint timed out");
        acquirer.Last.Fail(failure);

        Assert.Same(failure, await Assert.ThrowsAsync<TimeoutException>(() => waiter.Within()));
        Assert.False(coordinator.Current.IsAcquiring);
    }

    [Fact]
    public async Task Meter_Failures_TaggedWithBackgroundFlag()
    {
        var name = "observed-failures-" + Guid.NewGuid().ToString("N");
        var failures = new ConcurrentQueue<bool?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == AuthMetrics.MeterName && instrument.Name == "lockfree.auth.acquisitions.failed") { l.EnableMeasurementEvents(instrument); }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            string? coordinator = null;
            bool? background = null;
            foreach (var tag in tags)
            {
                if (tag.Key == AuthMetrics.CoordinatorTag) { coordinator = tag.Value as string; }
                if (tag.Key == AuthMetrics.BackgroundTag) { background = tag.Value as bool?; }
            }

            if (coordinator == name) { failures.Enqueue(background); }
        });
        listener.Start();

        var time = new FakeTimeProvider();
        var acquirer = new TestAcquirer(time, TimeSpan.FromSeconds(100));
        using var coordinator = acquirer.CreateCoordinator(new AuthCoordinatorOptions { Name = name });
        var waiter = coordinator.GetAsync();
        acquirer.Last.Fail(new InvalidOperationException("foreground"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => waiter.Within());
        var next = coordinator.GetAsync();
        acquirer.Last.Complete();
        await next.Within();
        time.Advance(TimeSpan.FromSeconds(80));
        await coordinator.GetAsync().Within();
        acquirer.Last.Fail(new InvalidOperationException("background"));

        Assert.Equal([false, true], failures);
    }

    /// <summary>Runs the scenario in its own frame, so no local of the test keeps the failed acquisition reachable.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<List<(string Message, bool Background)>> FailWithNobodyWaitingAsync(Unwaited kind, string marker)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var acquirer = new TestAcquirer(time, TimeSpan.FromSeconds(100));
        var reported = new List<(string, bool)>();
        using var coordinator = new AuthCoordinator<TokenContainer>(acquirer.AcquireAsync, static t => t.ExpiresAt, time)
        {
            OnAcquisitionFailed = (e, background) => { lock (reported) { reported.Add((e.Message, background)); } },
        };

        if (kind == Unwaited.BackgroundRefresh)
        {
            var first = coordinator.GetAsync();
            var token = acquirer.Last.Complete();
            Assert.Same(token, await first.Within());
            time.Advance(TimeSpan.FromSeconds(80));
            Assert.Same(token, await coordinator.GetAsync().Within()); // starts the background refresh; nobody awaits it
            Assert.True(acquirer.Last.Context.IsBackgroundRefresh);
        }
        else
        {
            acquirer.CancelIgnored = true; // the work does not stop when cancelled, and fails afterwards
            using var cts = new CancellationTokenSource();
            var leaving = coordinator.GetAsync(cts.Token);
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving.Within());
        }

        acquirer.Last.Fail(new InvalidOperationException(marker));
        Assert.False(coordinator.Current.IsAcquiring);
        lock (reported) { return [.. reported]; }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void DropUnobservedFaultedTask(string message) => _ = Task.FromException(new InvalidOperationException(message));
}
