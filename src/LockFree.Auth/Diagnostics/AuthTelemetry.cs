using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LockFree.Auth.Diagnostics;

/// <summary>
/// Traces and duration histograms of LockFree.Auth: the <see cref="ActivitySource"/> <c>LockFree.Auth</c> (the
/// meter's name) with a span per acquisition (<c>lockfree.auth.acquire</c>) and per back-channel request
/// (<c>lockfree.auth.backchannel</c>, a child of the acquisition that sent it), and the histograms
/// <c>lockfree.auth.acquisition.duration</c> and <c>lockfree.auth.coalesced.wait</c> (seconds) of the caller's
/// <see cref="AuthInstruments"/>.
/// </summary>
/// <remarks>
/// <para>
/// Acquisition spans and measurements carry <c>lockfree.auth.coordinator</c>, <c>lockfree.auth.background</c> and
/// <c>lockfree.auth.outcome</c> (<c>succeeded</c>, <c>failed</c>, <c>cancelled</c>); the span also carries
/// <c>lockfree.auth.callers.joined</c>, the callers that joined it while it was in flight. Back-channel spans carry
/// <c>http.request.method</c>, <c>url.full</c> (scheme, host and path only: never a query, fragment or user
/// information), <c>lockfree.auth.purpose</c>, and <c>http.response.status_code</c> or <c>error.type</c>. No tag ever
/// holds a token, secret or assertion.
/// </para>
/// <para>
/// Nothing here runs on the fast path (a cached value served); without a listener a span is not created and a
/// measurement is not recorded.
/// </para>
/// <para>
/// Concurrency: the source is a thread-safe static (an <see cref="ActivitySource"/> has no factory to come from); the
/// histograms belong to the <see cref="AuthInstruments"/> each call is given.
/// </para>
/// </remarks>
internal static class AuthTelemetry
{
    internal const string AcquireSpan = "lockfree.auth.acquire";
    internal const string BackChannelSpan = "lockfree.auth.backchannel";
    internal const string OutcomeTag = "lockfree.auth.outcome";
    internal const string CallersJoinedTag = "lockfree.auth.callers.joined";

    internal static readonly ActivitySource Source = new(AuthMetrics.MeterName, AuthInstruments.MeterVersion);

    /// <summary>
    /// Records, when <paramref name="shared"/> completes, how long a caller that joined it now waited. Only when someone
    /// listens to <c>lockfree.auth.coalesced.wait</c> (then one continuation per join); never throws.
    /// </summary>
    internal static void ObserveJoin<T>(AuthInstruments instruments, Task<T> shared, string coordinator)
    {
        var wait = instruments.CoalescedWait;
        if (!wait.Enabled || shared.IsCompleted)
        {
            return;
        }

        try
        {
            _ = shared.ContinueWith(
                static (_, state) =>
                {
                    var (histogram, startedAt, name) = ((Histogram<double>, long, string))state!;
                    try
                    {
                        histogram.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, new KeyValuePair<string, object?>(AuthMetrics.CoordinatorTag, name));
                    }
                    catch (Exception)
                    {
                        // A listener's callback failed: the measurement is lost, nothing else.
                    }
                },
                (wait, Stopwatch.GetTimestamp(), coordinator),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
        catch (Exception)
        {
            // Telemetry only.
        }
    }

    /// <summary>Starts the span of one acquisition, or returns <see langword="null"/> when nobody listens.</summary>
    /// <remarks>Never throws: a listener's callback that throws costs the span, never the acquisition (whose task must complete).</remarks>
    internal static Activity? StartAcquisition(string coordinator, bool background)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        try
        {
            var activity = Source.StartActivity(AcquireSpan, ActivityKind.Internal);
            activity?.SetTag(AuthMetrics.CoordinatorTag, coordinator).SetTag(AuthMetrics.BackgroundTag, background);
            return activity;
        }
        catch (Exception)
        {
            return null;
        }
    }

    /// <summary>Ends an acquisition's span and records its duration (only where someone listens).</summary>
    /// <remarks>Never throws (see <see cref="StartAcquisition"/>): it runs on the path that completes the shared task.</remarks>
    internal static void EndAcquisition(AuthInstruments instruments, Activity? activity, long startedAt, string coordinator, bool background, string outcome, int joined)
    {
        try
        {
            EndAcquisitionCore(instruments.AcquisitionDuration, activity, startedAt, coordinator, background, outcome, joined);
        }
        catch (Exception)
        {
            // A listener's callback failed: telemetry is lost, the acquisition's outcome is not.
        }
    }

    private static void EndAcquisitionCore(Histogram<double> duration, Activity? activity, long startedAt, string coordinator, bool background, string outcome, int joined)
    {
        if (activity is not null)
        {
            activity.SetTag(OutcomeTag, outcome).SetTag(CallersJoinedTag, joined);
            if (outcome != "succeeded")
            {
                activity.SetStatus(ActivityStatusCode.Error, outcome);
            }

            activity.Dispose();
        }

        if (duration.Enabled)
        {
            duration.Record(
                Stopwatch.GetElapsedTime(startedAt).TotalSeconds,
                new KeyValuePair<string, object?>(AuthMetrics.CoordinatorTag, coordinator),
                new KeyValuePair<string, object?>(AuthMetrics.BackgroundTag, background),
                new KeyValuePair<string, object?>(OutcomeTag, outcome));
        }
    }

    /// <summary>Starts the span of one back-channel request, or returns <see langword="null"/> when nobody listens.</summary>
    /// <remarks>Never throws (see <see cref="StartAcquisition"/>).</remarks>
    internal static Span StartBackChannel(HttpMethod method, Uri endpoint, string purpose)
    {
        if (!Source.HasListeners())
        {
            return default;
        }

        try
        {
            var activity = Source.StartActivity(BackChannelSpan, ActivityKind.Client);
            activity?.SetTag("http.request.method", method.Method).SetTag("url.full", Log.Endpoint(endpoint)).SetTag("lockfree.auth.purpose", purpose);
            return new Span(activity);
        }
        catch (Exception)
        {
            return default;
        }
    }

    /// <summary>Marks a back-channel span failed with <paramref name="reason"/> (a failure reason or exception type, never a message).</summary>
    internal static void BackChannelFailed(Activity? activity, string reason) =>
        activity?.SetTag("error.type", reason).SetStatus(ActivityStatusCode.Error, reason);

    /// <summary>A span whose end never throws (a listener's failing callback costs the span, not the request).</summary>
    /// <param name="Activity">The activity, or <see langword="null"/> when nobody listens.</param>
    internal readonly record struct Span(Activity? Activity) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                Activity?.Dispose();
            }
            catch (Exception)
            {
                // Telemetry is lost; the request's outcome is not.
            }
        }
    }
}
