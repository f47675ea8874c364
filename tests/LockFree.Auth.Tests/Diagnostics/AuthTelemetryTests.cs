using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using LockFree.Auth.Testing;
using LockFree.Auth.Tests.ClientCredentials;

namespace LockFree.Auth.Tests.Diagnostics;

/// <summary>
/// Traces and the duration histogram (AuthTelemetry): one span per acquisition with the callers that joined it, a child
/// span per back-channel request, a duration measurement per acquisition; nothing on the fast path; no secret in a tag.
/// </summary>
public sealed class AuthTelemetryTests
{
    [Fact]
    public async Task Acquisition_OneSpanWithJoinedCallers_AndABackChannelChildSpan_AndOneDurationMeasurement()
    {
        var world = new ClientCredentialsFixture();
        var name = "telemetry-" + Guid.NewGuid().ToString("N");
        using var manager = world.Manager(clientName: name);
        using var recorder = new Recorder("client-credentials." + name);
        var gate = world.Server.HoldTokens();

        var calls = Enumerable.Range(0, 8).Select(_ => manager.GetAccessTokenAsync(name)).ToArray();
        await gate.WaitForArrivalsAsync(1).Within();
        gate.Release();
        var tokens = await Task.WhenAll(calls).Within();

        var acquire = Assert.Single(recorder.Acquisitions);
        Assert.Equal(false, acquire.GetTagItem(AuthMetrics.BackgroundTag));
        Assert.Equal("succeeded", acquire.GetTagItem("lockfree.auth.outcome"));
        Assert.Equal(7, acquire.GetTagItem("lockfree.auth.callers.joined"));
        var request = Assert.Single(recorder.BackChannel, a => a.ParentSpanId == acquire.SpanId);
        Assert.Equal("POST", request.GetTagItem("http.request.method"));
        Assert.Equal(world.Server.TokenEndpoint, request.GetTagItem("url.full"));
        Assert.Equal(200, request.GetTagItem("http.response.status_code"));
        var measurement = Assert.Single(recorder.Durations);
        Assert.True(measurement.Seconds >= 0);
        Assert.Equal("succeeded", measurement.Outcome);
        Assert.Equal(7, recorder.Waits.Count);
        Assert.All(recorder.Waits, w => Assert.True(w >= 0 && w <= measurement.Seconds + 1));

        // The fast path emits nothing.
        for (var i = 0; i < 100; i++)
        {
            await manager.GetAccessTokenAsync(name).Within();
        }

        Assert.Single(recorder.Acquisitions);
        Assert.Single(recorder.Durations);
        Assert.Equal(7, recorder.Waits.Count);
        var tags = recorder.Acquisitions.Concat(recorder.BackChannel).SelectMany(a => a.TagObjects).Select(t => t.Value?.ToString() ?? "");
        Assert.DoesNotContain(tags, v => v.Contains(tokens[0].AccessToken, StringComparison.Ordinal) || v.Contains(ClientCredentialsFixture.ClientSecret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task FailedAcquisition_SpanAndMeasurementSayFailed_BackChannelSpanCarriesTheStatus()
    {
        var world = new ClientCredentialsFixture();
        var name = "telemetry-" + Guid.NewGuid().ToString("N");
        using var manager = world.Manager(clientName: name);
        using var recorder = new Recorder("client-credentials." + name);
        world.Server.TokenResponder = _ => FakeResponses.OAuthError("invalid_client");

        await Assert.ThrowsAsync<OAuthException>(() => manager.GetAccessTokenAsync(name).Within());

        var acquire = Assert.Single(recorder.Acquisitions);
        Assert.Equal("failed", acquire.GetTagItem("lockfree.auth.outcome"));
        Assert.Equal(ActivityStatusCode.Error, acquire.Status);
        Assert.Equal(400, Assert.Single(recorder.BackChannel, a => a.ParentSpanId == acquire.SpanId).GetTagItem("http.response.status_code"));
        Assert.Equal("failed", Assert.Single(recorder.Durations).Outcome);
    }

    [Fact]
    public async Task ThrowingListener_NeverBreaksAnAcquisition()
    {
        var world = new ClientCredentialsFixture();
        var name = "telemetry-" + Guid.NewGuid().ToString("N");
        using var manager = world.Manager(clientName: name);
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == AuthMetrics.MeterName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = _ => throw new InvalidOperationException("listener failed"),
            ActivityStopped = _ => throw new InvalidOperationException("listener failed"),
        };
        ActivitySource.AddActivityListener(listener);

        var token = await manager.GetAccessTokenAsync(name).Within();

        Assert.Equal("cc-access-1", token.AccessToken);
    }

    /// <summary>Collects this test's spans (by coordinator tag, and back-channel spans) and duration measurements.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly string _coordinator;
        private readonly ActivityListener _activities;
        private readonly MeterListener _meters;
        private readonly ConcurrentQueue<Activity> _stopped = new();
        private readonly ConcurrentQueue<(double Seconds, string? Outcome)> _durations = new();
        private readonly ConcurrentQueue<double> _waits = new();

        public Recorder(string coordinator)
        {
            _coordinator = coordinator;
            _activities = new ActivityListener
            {
                ShouldListenTo = s => s.Name == AuthMetrics.MeterName,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = _stopped.Enqueue,
            };
            ActivitySource.AddActivityListener(_activities);
            _meters = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name == AuthMetrics.MeterName && instrument.Name is "lockfree.auth.acquisition.duration" or "lockfree.auth.coalesced.wait") { l.EnableMeasurementEvents(instrument); }
                },
            };
            _meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            {
                string? name = null, outcome = null;
                foreach (var tag in tags)
                {
                    if (tag.Key == AuthMetrics.CoordinatorTag) { name = tag.Value as string; }
                    if (tag.Key == "lockfree.auth.outcome") { outcome = tag.Value as string; }
                }

                if (name != _coordinator) { return; }

                if (instrument.Name == "lockfree.auth.coalesced.wait") { _waits.Enqueue(value); }
                else { _durations.Enqueue((value, outcome)); }
            });
            _meters.Start();
        }

        public IReadOnlyList<Activity> Acquisitions =>
            [.. _stopped.Where(a => a.OperationName == "lockfree.auth.acquire" && (string?)a.GetTagItem(AuthMetrics.CoordinatorTag) == _coordinator)];

        public IReadOnlyList<Activity> BackChannel => [.. _stopped.Where(a => a.OperationName == "lockfree.auth.backchannel")];

        public IReadOnlyList<(double Seconds, string? Outcome)> Durations => [.. _durations];

        public IReadOnlyList<double> Waits => [.. _waits];

        public void Dispose()
        {
            _activities.Dispose();
            _meters.Dispose();
        }
    }
}
