namespace LockFree.Auth;

/// <summary>
/// Serves a cached value (a token, discovery metadata) and coalesces the work that replaces it: at most one
/// acquisition per generation, published only if no invalidation happened meanwhile. Lock-free.
/// </summary>
/// <typeparam name="T">The cached value type.</typeparam>
/// <remarks>
/// <para>
/// All state is one <see cref="AuthSnapshot{T}"/> held by an <see cref="AuthCell{TState}"/>. The numbered
/// guarantees (I1–I10) are stated in <c>spec/concurrency-contract.md</c>, each with the tests that check it.
/// </para>
/// <para>
/// Concurrency: every member is safe to call from any thread, concurrently, and from inside the acquisition
/// delegate. <see cref="GetAsync"/> returns a cached usable value with one volatile read and no allocation;
/// otherwise every caller that finds no usable value joins the single acquisition in flight (or installs it with
/// one compare-and-swap). A caller's <see cref="CancellationToken"/> cancels only that caller's wait; the shared
/// work runs on a token owned by the coordinator, which is cancelled when every waiter has left or on
/// <see cref="Dispose"/>. <see cref="Invalidate()"/> and <see cref="Invalidate{TArg}(Func{T, TArg, bool}, TArg)"/>
/// never block and never wait for work in flight.
/// </para>
/// </remarks>
public sealed class AuthCoordinator<T> : IDisposable where T : class
{
    private readonly AuthCell<AuthSnapshot<T>> _cell;
    private readonly Func<AcquisitionContext<T>, CancellationToken, Task<T>> _acquire;
    private readonly Func<T, DateTimeOffset?> _expiresAt;
    private readonly TimeProvider _time;
    private readonly AuthCoordinatorOptions _options;
    private readonly KeyValuePair<string, object?> _tag;

    // Statistics: incremented with Interlocked on slow paths only, read with Volatile.Read; they are
    // monotonic counters and no decision is based on them.
    private long _started;
    private long _coalesced;
    private long _published;
    private long _discarded;
    private long _failed;
    private long _invalidations;

    // 0 = live, 1 = disposed. Set once with Interlocked.Exchange; read with Volatile.Read before installing work.
    private int _disposed;

    /// <summary>Creates a coordinator.</summary>
    /// <param name="acquire">The work that produces a new value; runs on the coordinator's token, never on a caller's.</param>
    /// <param name="expiresAt">When a value expires (<see langword="null"/>: it does not).</param>
    /// <param name="timeProvider">The clock and timers; <see cref="TimeProvider.System"/> when omitted.</param>
    /// <param name="options">Expiry rules; defaults when omitted.</param>
    public AuthCoordinator(
        Func<AcquisitionContext<T>, CancellationToken, Task<T>> acquire,
        Func<T, DateTimeOffset?>? expiresAt = null,
        TimeProvider? timeProvider = null,
        AuthCoordinatorOptions? options = null)
        : this(acquire, expiresAt, timeProvider, options, new AuthCell<AuthSnapshot<T>>(AuthSnapshot<T>.Empty))
    {
    }

    /// <summary>For tests: a coordinator over a given cell (seeded-bug variants override its compare-and-swap).</summary>
    internal AuthCoordinator(
        Func<AcquisitionContext<T>, CancellationToken, Task<T>> acquire,
        Func<T, DateTimeOffset?>? expiresAt,
        TimeProvider? timeProvider,
        AuthCoordinatorOptions? options,
        AuthCell<AuthSnapshot<T>> cell)
    {
        ArgumentNullException.ThrowIfNull(acquire);
        options ??= new AuthCoordinatorOptions();
        options.Validate();
        _acquire = acquire;
        _expiresAt = expiresAt ?? (static _ => null);
        _time = timeProvider ?? TimeProvider.System;
        _options = new AuthCoordinatorOptions
        {
            SkewMargin = options.SkewMargin,
            MaxSkewFraction = options.MaxSkewFraction,
            RefreshAheadWindow = options.RefreshAheadWindow,
            MaxRefreshAheadFraction = options.MaxRefreshAheadFraction,
            RefreshRetryDelay = options.RefreshRetryDelay,
            Name = options.Name,
        };
        _tag = new KeyValuePair<string, object?>(AuthMetrics.CoordinatorTag, _options.Name);
        _cell = cell;
    }

    /// <summary>The current state. Read it once into a local.</summary>
    public AuthSnapshot<T> Current => _cell.Current;

    /// <summary>Counters since creation.</summary>
    public AuthCoordinatorStatistics Statistics => new(
        Volatile.Read(ref _started),
        Volatile.Read(ref _coalesced),
        Volatile.Read(ref _published),
        Volatile.Read(ref _discarded),
        Volatile.Read(ref _failed),
        Volatile.Read(ref _invalidations));

    /// <summary>
    /// Returns the cached value if it is usable; otherwise joins or starts the one acquisition of the current
    /// generation and waits for it (only <paramref name="cancellationToken"/>'s own wait is cancellable).
    /// </summary>
    public Task<T> GetAsync(CancellationToken cancellationToken = default)
    {
        // I1 fast path: one acquire read of the cell; the cached completed task is returned as is. Expiry is
        // enforced by the snapshot's timer, which retires the value at UsableUntil (and marks a refresh due at
        // RefreshAt), so no clock is read here.
        return _cell.Current.Fast ?? GetSlowAsync(cancellationToken);
    }

    private Task<T> GetSlowAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        while (true)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return Task.FromException<T>(new ObjectDisposedException(GetType().Name));
            }

            var snapshot = _cell.Current;
            if (snapshot.Fast is { } fresh)
            {
                return fresh;
            }

            if (snapshot.Cached is { } cached)
            {
                // A refresh is due (or the timer is late): the slow path may read the clock.
                var now = _time.GetUtcNow();
                if (!snapshot.IsUsable(now))
                {
                    Retire(snapshot);
                    continue;
                }

                if (snapshot.Pending is null && !TryStartBackgroundRefresh(snapshot, now))
                {
                    continue;
                }

                return cached;
            }

            if (snapshot.Pending is { } pending)
            {
                if (pending.TryJoin())
                {
                    Count(ref _coalesced, AuthMetrics.CallersCoalesced);
                    return JoinAsync(pending, cancellationToken);
                }

                // Every waiter left this one and its work is being cancelled: remove it (I6) and try again.
                RemoveFailed(pending);
                continue;
            }

            // I2: install the next generation's acquisition with one CAS; only the winner starts it.
            var candidate = new Acquisition<T>(this, snapshot.Generation + 1, snapshot.Retired, isBackgroundRefresh: false);
            if (_cell.TryReplace(snapshot, snapshot.WithPending(candidate)))
            {
                Count(ref _started, AuthMetrics.AcquisitionsStarted);
                candidate.Start();
                if (Volatile.Read(ref _disposed) != 0)
                {
                    candidate.CancelShared();
                }

                return JoinAsync(candidate, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Forgets the cached value and any acquisition in flight, and opens a new generation. Never blocks. The
    /// acquisition in flight still completes for its own waiters, but its result is not cached (I3).
    /// </summary>
    public void Invalidate()
    {
        var (before, after) = _cell.Update(static (s, _) => s.WithInvalidated(), 0);
        after.AssertInvariants();
        before.Timer?.Dispose();
        Count(ref _invalidations, AuthMetrics.Invalidations);
    }

    /// <summary>
    /// Retires the cached value only if <paramref name="isRejected"/> says it is the one that was rejected (I4).
    /// An acquisition already in flight is kept: it is already producing the replacement. Never blocks.
    /// </summary>
    /// <returns><see langword="true"/> if the cached value was retired by this call.</returns>
    public bool Invalidate<TArg>(Func<T, TArg, bool> isRejected, TArg argument)
    {
        ArgumentNullException.ThrowIfNull(isRejected);
        while (true)
        {
            var snapshot = _cell.Current;
            if (snapshot.Value is not { } value || !isRejected(value, argument))
            {
                return false;
            }

            var next = snapshot.WithRetired();
            if (_cell.TryReplace(snapshot, next))
            {
                next.AssertInvariants();
                snapshot.Timer?.Dispose();
                Count(ref _invalidations, AuthMetrics.Invalidations);
                return true;
            }
        }
    }

    /// <summary>Cancels the acquisition in flight, drops the state and makes later calls fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var (before, _) = _cell.Update(static (s, _) => s.WithInvalidated(), 0);
        before.Timer?.Dispose();
        before.Pending?.CancelShared();
    }

    internal Task<T> InvokeAcquireAsync(AcquisitionContext<T> context, CancellationToken cancellationToken) =>
        _acquire(context, cancellationToken);

    /// <summary>I3: publishes <paramref name="value"/> only if <paramref name="acquisition"/> is still the pending one of its generation.</summary>
    internal void Publish(Acquisition<T> acquisition, T value)
    {
        var completed = Task.FromResult(value);
        var expiresAt = _expiresAt(value);
        while (true)
        {
            var snapshot = _cell.Current;
            if (!ReferenceEquals(snapshot.Pending, acquisition) || snapshot.Generation != acquisition.Generation)
            {
                Count(ref _discarded, AuthMetrics.Discarded);
                return;
            }

            var now = _time.GetUtcNow();
            var next = snapshot.WithPublished(value, completed, expiresAt, now, _options);
            if (_cell.TryReplace(snapshot, next))
            {
                next.AssertInvariants();
                snapshot.Timer?.Dispose();
                Interlocked.Increment(ref _published);
                Arm(next, now);
                return;
            }
        }
    }

    /// <summary>I5: a failed (or cancelled) acquisition is removed, so the next caller starts a fresh one.</summary>
    internal void OnFailed(Acquisition<T> acquisition)
    {
        Count(ref _failed, AuthMetrics.Failures);
        RemoveFailed(acquisition);
    }

    private void RemoveFailed(Acquisition<T> acquisition)
    {
        while (true)
        {
            var snapshot = _cell.Current;
            if (!ReferenceEquals(snapshot.Pending, acquisition))
            {
                return;
            }

            var now = _time.GetUtcNow();
            var next = snapshot.WithFailed(now + _options.RefreshRetryDelay);
            if (_cell.TryReplace(snapshot, next))
            {
                next.AssertInvariants();
                Reschedule(next, now);
                return;
            }
        }
    }

    private static Task<T> JoinAsync(Acquisition<T> acquisition, CancellationToken cancellationToken)
    {
        var shared = acquisition.Result.Value;
        if (!cancellationToken.CanBeCanceled || shared.IsCompleted)
        {
            // Non-cancellable waiters pin the acquisition: they joined and never leave.
            return shared;
        }

        return WaitCancellableAsync(acquisition, shared, cancellationToken);
    }

    private static async Task<T> WaitCancellableAsync(Acquisition<T> acquisition, Task<T> shared, CancellationToken cancellationToken)
    {
        try
        {
            return await shared.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !shared.IsCompleted)
        {
            // I6: only this caller's wait ends; the last one to leave cancels the shared work.
            acquisition.Leave();
            throw;
        }
    }

    // Timers: a value with an expiry gets one timer, created after the value was published and attached with a
    // second CAS. Whoever replaces a snapshot disposes the timer it carried; a timer attached to a snapshot that
    // is no longer current is disposed by the thread whose attach CAS failed. A stale callback is harmless: it
    // re-reads the cell and acts only on the value generation it was armed for.
    private void Arm(AuthSnapshot<T> published, DateTimeOffset now)
    {
        if (published.Value is null || NextDeadline(published, now) is not { } due)
        {
            return;
        }

        var timer = _time.CreateTimer(
            static state => ((TimerState)state!).Fire(),
            new TimerState(this, published.ValueGeneration),
            due,
            Timeout.InfiniteTimeSpan);
        if (!_cell.TryReplace(published, published.WithTimer(timer)))
        {
            // The value was replaced (or retired) meanwhile; whoever replaced it owns the schedule now.
            timer.Dispose();
        }
    }

    private static void Reschedule(AuthSnapshot<T> snapshot, DateTimeOffset now)
    {
        if (snapshot.Timer is { } timer && NextDeadline(snapshot, now) is { } due)
        {
            try
            {
                timer.Change(due, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Benign: the snapshot was replaced meanwhile and its replacer disposed the timer.
            }
        }
    }

    private static TimeSpan? NextDeadline(AuthSnapshot<T> snapshot, DateTimeOffset now)
    {
        DateTimeOffset? at = snapshot.Pending is null && snapshot.IsFresh && snapshot.RefreshAt is { } refresh && refresh < (snapshot.UsableUntil ?? DateTimeOffset.MaxValue)
            ? refresh
            : snapshot.UsableUntil;
        if (at is not { } when)
        {
            return null;
        }

        var due = when - now;
        return due > TimeSpan.Zero ? due : TimeSpan.Zero;
    }

    /// <summary>Timer callback: retire an expired value, or mark its refresh as due (I7).</summary>
    internal void OnTimer(long valueGeneration)
    {
        while (true)
        {
            var snapshot = _cell.Current;
            if (snapshot.Value is null || snapshot.ValueGeneration != valueGeneration || Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            var now = _time.GetUtcNow();
            if (!snapshot.IsUsable(now))
            {
                if (Retire(snapshot))
                {
                    return;
                }

                continue;
            }

            if (snapshot.IsRefreshDue(now) && snapshot.IsFresh)
            {
                // The fast path stops serving; the next caller starts the background refresh (I7). An idle
                // client therefore causes no traffic; its value simply expires.
                var due = snapshot.WithRefreshDue();
                if (_cell.TryReplace(snapshot, due))
                {
                    due.AssertInvariants();
                    Reschedule(due, now);
                    return;
                }

                continue;
            }

            Reschedule(snapshot, now);
            return;
        }
    }

    /// <summary>Refresh-ahead: installs a background acquisition, coalesced like any other (I2), while the value is still served.</summary>
    private bool TryStartBackgroundRefresh(AuthSnapshot<T> snapshot, DateTimeOffset now)
    {
        // Pinned: its installer does not wait for it, and the coordinator itself wants its result, so waiters that
        // join later and cancel can never abandon it.
        var candidate = new Acquisition<T>(this, snapshot.Generation + 1, snapshot.Value, isBackgroundRefresh: true);
        var next = snapshot.WithPending(candidate);
        if (!_cell.TryReplace(snapshot, next))
        {
            return false;
        }

        next.AssertInvariants();
        Count(ref _started, AuthMetrics.AcquisitionsStarted);
        Reschedule(next, now);
        candidate.Start();
        return true;
    }

    private bool Retire(AuthSnapshot<T> snapshot)
    {
        var retired = snapshot.WithRetired();
        if (!_cell.TryReplace(snapshot, retired))
        {
            return false;
        }

        retired.AssertInvariants();
        snapshot.Timer?.Dispose();
        return true;
    }

    private void Count(ref long field, System.Diagnostics.Metrics.Counter<long> counter)
    {
        Interlocked.Increment(ref field);
        counter.Add(1, _tag);
    }

    private sealed class TimerState(AuthCoordinator<T> owner, long valueGeneration)
    {
        public void Fire() => owner.OnTimer(valueGeneration);
    }
}
