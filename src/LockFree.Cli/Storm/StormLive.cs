using System.Collections.Concurrent;
using LockFree.Cli.Embedded;
using LockFree.Cli.Providers;

namespace LockFree.Cli.Storm;

/// <summary>Live counters of a running storm, read by the progress view.</summary>
internal sealed class StormLive
{
    private readonly Func<long> _unauthorized;
    private readonly Func<long> _exchanges;
    private readonly Func<long> _coalesced;
    private readonly Func<long?> _idealSoFar;
    private long _requests;
    private long _failed;

    internal StormLive(StormSettings settings, string providerDescription, Uri resource, TimeProvider time, long start,
        Func<long> unauthorized, Func<long> exchanges, Func<long> coalesced, Func<long?> idealSoFar)
    {
        Settings = settings;
        ProviderDescription = providerDescription;
        Resource = resource;
        Time = time;
        Start = start;
        _unauthorized = unauthorized;
        _exchanges = exchanges;
        _coalesced = coalesced;
        _idealSoFar = idealSoFar;
    }

    public StormSettings Settings { get; }

    public string ProviderDescription { get; }

    public Uri Resource { get; }

    public TimeProvider Time { get; }

    public long Start { get; }

    public TimeSpan Elapsed => Time.GetElapsedTime(Start);

    public long Requests => Interlocked.Read(ref _requests);

    public long Failed => Interlocked.Read(ref _failed);

    public long Unauthorized => _unauthorized();

    public long Exchanges => _exchanges();

    public long Coalesced => _coalesced();

    /// <summary>The ideal exchange count up to now (null before the first token).</summary>
    public long? IdealSoFar => _idealSoFar();

    internal void Completed(bool failed)
    {
        Interlocked.Increment(ref _requests);
        if (failed)
        {
            Interlocked.Increment(ref _failed);
        }
    }
}
