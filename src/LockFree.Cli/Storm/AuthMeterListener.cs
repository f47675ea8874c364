using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using LockFree.Auth;
using LockFree.Auth.Diagnostics;

namespace LockFree.Cli.Storm;

/// <summary>
/// Listens to the <c>LockFree.Auth</c> meter (<see cref="AuthMetrics.MeterName"/>) and sums its counters, so the
/// storm reports what the library itself measured: acquisitions started, callers coalesced, invalidations, failures.
/// </summary>
/// <remarks>Concurrency: measurement callbacks run on the recording threads; sums are Interlocked.</remarks>
internal sealed class AuthMeterListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly TimeProvider _time;
    private readonly ConcurrentQueue<long> _invalidationTimestamps = new();
    private readonly ConcurrentDictionary<string, long> _acquisitionsByCoordinator = new(StringComparer.Ordinal);
    private long _started;
    private long _coalesced;
    private long _invalidations;
    private long _failed;
    private long _discarded;

    public AuthMeterListener(TimeProvider time)
    {
        _time = time;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == AuthMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument, this);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (instrument, value, tags, state) =>
            ((AuthMeterListener)state!).OnMeasurement(instrument.Name, value, tags));
        _listener.Start();
    }

    public long AcquisitionsStarted => Interlocked.Read(ref _started);

    public long CallersCoalesced => Interlocked.Read(ref _coalesced);

    public long Invalidations => Interlocked.Read(ref _invalidations);

    public long Failures => Interlocked.Read(ref _failed);

    public long Discarded => Interlocked.Read(ref _discarded);

    /// <summary>When invalidations were recorded (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public IReadOnlyList<long> InvalidationTimestamps => [.. _invalidationTimestamps];

    /// <summary>Acquisitions started per coordinator name (the <c>lockfree.auth.coordinator</c> tag).</summary>
    public IReadOnlyDictionary<string, long> AcquisitionsByCoordinator => new Dictionary<string, long>(_acquisitionsByCoordinator, StringComparer.Ordinal);

    public void Dispose() => _listener.Dispose();

    private void OnMeasurement(string instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        switch (instrument)
        {
            case "lockfree.auth.acquisitions.started":
                Interlocked.Add(ref _started, value);
                var name = "coordinator";
                foreach (var tag in tags)
                {
                    if (tag.Key == AuthMetrics.CoordinatorTag && tag.Value is string s)
                    {
                        name = s;
                    }
                }

                _acquisitionsByCoordinator.AddOrUpdate(name, value, (_, old) => old + value);
                break;
            case "lockfree.auth.callers.coalesced":
                Interlocked.Add(ref _coalesced, value);
                break;
            case "lockfree.auth.invalidations":
                Interlocked.Add(ref _invalidations, value);
                _invalidationTimestamps.Enqueue(_time.GetTimestamp());
                break;
            case "lockfree.auth.acquisitions.failed":
                Interlocked.Add(ref _failed, value);
                break;
            case "lockfree.auth.acquisitions.discarded":
                Interlocked.Add(ref _discarded, value);
                break;
            default:
                break;
        }
    }
}
