using System.Collections.Immutable;

namespace LockFree.Auth;

/// <summary>
/// An <see cref="ISharedTokenStore"/> in this process's memory: for tests and models of the protocol, and for
/// several coordinators of one process that should behave like replicas. Leases expire on the injected
/// <see cref="TimeProvider"/>; records never expire.
/// </summary>
/// <remarks>
/// Concurrency: all state is one immutable dictionary in one cell, replaced only by compare-and-swap; each operation
/// is one such transition (the in-memory counterpart of one Lua script), so every operation is atomic and lock-free.
/// </remarks>
public sealed class InMemorySharedTokenStore : ISharedTokenStore
{
    // The only mutable reference: read with Volatile.Read, replaced only by CAS (AuthCell). Transitions are pure.
    private readonly AuthCell<ImmutableDictionary<string, Entry>> _cell = new(ImmutableDictionary.Create<string, Entry>(StringComparer.Ordinal));
    private readonly SharedChangeSignals _signals = new();
    private readonly TimeProvider _time;

    /// <summary>Creates an empty store.</summary>
    /// <param name="timeProvider">The clock of lease expiry and of bounded waits; <see cref="TimeProvider.System"/> when omitted.</param>
    public InMemorySharedTokenStore(TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc/>
    public ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ValueTask.FromResult(_cell.Current.TryGetValue(key, out var entry) ? entry.Record : null);
    }

    /// <inheritdoc/>
    public ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeToLive, TimeSpan.Zero);
        while (true)
        {
            var state = _cell.Current;
            var entry = state.GetValueOrDefault(key) ?? Entry.Empty;
            var version = entry.Record?.Version ?? 0;
            if (version != expectedVersion)
            {
                return ValueTask.FromResult(SharedLease.Stale(version));
            }

            var now = _time.GetUtcNow();
            if (entry.LeaseHolder is { } other && other != holder && entry.LeaseFence == version && entry.LeaseUntil > now)
            {
                return ValueTask.FromResult(SharedLease.Held(version, entry.LeaseUntil - now));
            }

            var next = entry with { LeaseHolder = holder, LeaseFence = version, LeaseUntil = now + timeToLive };
            if (_cell.TryReplace(state, state.SetItem(key, next)))
            {
                return ValueTask.FromResult(SharedLease.Granted(version, holder));
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(value);
        if (lease.Status != SharedLeaseStatus.Granted)
        {
            throw new ArgumentException("Only a granted lease can publish.", nameof(lease));
        }

        while (true)
        {
            var state = _cell.Current;
            var entry = state.GetValueOrDefault(key) ?? Entry.Empty;
            var version = entry.Record?.Version ?? 0;

            // The fence: only the version the lease was granted at may be succeeded, whether or not the lease is live.
            if (version != lease.Version)
            {
                return ValueTask.FromResult(new SharedPublishResult(false, version));
            }

            var ownsLease = entry.LeaseHolder == lease.Holder && entry.LeaseFence == lease.Version;
            var next = new Entry(new SharedTokenRecord(version + 1, value, isRetired: false),
                ownsLease ? null : entry.LeaseHolder, ownsLease ? 0 : entry.LeaseFence, ownsLease ? default : entry.LeaseUntil);
            if (_cell.TryReplace(state, state.SetItem(key, next)))
            {
                _signals.Notify(key);
                return ValueTask.FromResult(new SharedPublishResult(true, version + 1));
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(lease);
        var (before, after) = _cell.Update(static (state, arg) =>
            state.TryGetValue(arg.key, out var entry) && entry.LeaseHolder == arg.lease.Holder && entry.LeaseFence == arg.lease.Version
                ? state.SetItem(arg.key, entry with { LeaseHolder = null, LeaseFence = 0, LeaseUntil = default })
                : state,
            (key, lease));
        if (!ReferenceEquals(before, after))
        {
            _signals.Notify(key);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(fingerprint);
        var (before, after) = _cell.Update(static (state, arg) =>
            state.TryGetValue(arg.key, out var entry) && entry.Record is { IsRetired: false } record && record.Value.Fingerprint == arg.fingerprint
                ? state.SetItem(arg.key, entry with { Record = new SharedTokenRecord(record.Version, record.Value, isRetired: true) })
                : state,
            (key, fingerprint));
        var retired = !ReferenceEquals(before, after);
        if (retired)
        {
            _signals.Notify(key);
        }

        return ValueTask.FromResult(retired);
    }

    /// <inheritdoc/>
    public async ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);

        // The signal first, then the read: a change after the read completes the signal taken before it.
        var signal = _signals.Current(key);
        var record = await ReadAsync(key, cancellationToken).ConfigureAwait(false);
        if ((record?.Version ?? 0) != knownVersion)
        {
            return;
        }

        await SharedChangeSignals.WaitAsync(signal, bound, _time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One key's record and lease (holder, the version it was taken at, its expiry).</summary>
    private sealed record Entry(SharedTokenRecord? Record, string? LeaseHolder, long LeaseFence, DateTimeOffset LeaseUntil)
    {
        public static readonly Entry Empty = new(null, null, 0, default);
    }
}
