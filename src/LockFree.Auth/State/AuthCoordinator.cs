using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using LockFree.Auth.Diagnostics;

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
/// <para>
/// A coordinator that an <see cref="AuthCoordinatorMap{TKey, T}"/> evicted holds nothing any more and forwards
/// <see cref="GetAsync"/> and both <c>Invalidate</c> forms to its key's current coordinator in that map (see the map's
/// remarks); its own <see cref="Current"/> stays empty, so a caller that kept it loses only the fast path.
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

    // Where measurements go (AuthCoordinatorOptions.Instruments, else the static meter's). Written once by the
    // constructor; the slow paths that record read this readonly field, the fast path never does.
    private readonly AuthInstruments _instruments;

    /// <summary>The log category of every coordinator (<see cref="AuthCoordinatorOptions.LoggerFactory"/>).</summary>
    internal const string LoggerCategory = "LockFree.Auth.AuthCoordinator";

    // Debug events only (Log.Core); NullLogger when no factory was given. Written once by the constructor.
    private readonly ILogger _logger;

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

    // Set once (Interlocked.CompareExchange from null) when the AuthCoordinatorMap that held this coordinator evicted
    // it: the state was dropped, and every later call is sent to the key's current coordinator. Written before the
    // evicting CAS on the cell and read before a publishing CAS, so no value is cached here after the eviction.
    private ICoordinatorHome<T>? _home;

    // The invalidation epoch of the map that holds this coordinator (I11); InvalidationEpoch.None (never advanced) outside
    // a map. Written once by AttachEpoch while the coordinator is still private to the map's Add (before the CAS that
    // publishes it, a full fence), so every thread that reaches the coordinator through the map reads the map's epoch.
    private InvalidationEpoch _epoch = InvalidationEpoch.None;

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
        _options = options.Clone();
        _tag = new KeyValuePair<string, object?>(AuthMetrics.CoordinatorTag, _options.Name);
        _instruments = _options.Instruments ?? AuthInstruments.Default;
        _logger = _options.LoggerFactory?.CreateLogger(LoggerCategory) ?? NullLogger.Instance;
        _cell = cell;
    }

    /// <summary>
    /// For the providers' logging: called once for every acquisition that fails, with the exception and whether it was
    /// a background refresh (a failure nobody may be waiting for). Not called when the work ended because the
    /// coordinator cancelled it (every waiter left, or <see cref="Dispose"/>). Runs on the acquisition's thread after
    /// the failed acquisition was removed (I5) and before its waiters see the exception; it must not block, and an
    /// exception it throws is ignored.
    /// </summary>
    internal Action<Exception, bool>? OnAcquisitionFailed { get; init; }

    /// <summary>The coordinator's name (<see cref="AuthCoordinatorOptions.Name"/>), for telemetry.</summary>
    internal string Name => _options.Name;

    /// <summary>The instruments this coordinator and its acquisitions record on (fixed at construction).</summary>
    internal AuthInstruments Instruments => _instruments;

    /// <summary>
    /// The current state. Read it once into a local. A state left behind by the map's <c>InvalidateAll</c> is never
    /// returned: it is replaced by its invalidated successor first (I11).
    /// </summary>
    internal AuthSnapshot<T> Current => Settle(_cell.Current);

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
        // I1 fast path: one acquire read of the cell and one of the map's epoch; the cached completed task is returned
        // as is. Expiry is enforced by the snapshot's timer, which retires the value at UsableUntil (and marks a refresh
        // due at RefreshAt), so no clock is read here.
        // I11: the epoch is read after the cell. A value in a snapshot of the current epoch was acquired by an
        // acquisition installed in that epoch (WithInvalidated is the only transition that changes a snapshot's
        // epoch, and it drops the value), so a caller that starts after InvalidateAll returned never gets a value
        // acquired before it.
        var snapshot = _cell.Current;
        return snapshot.Fast is { } fast && snapshot.Epoch == _epoch.Value ? fast : GetSlowAsync(cancellationToken);
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

            if (Volatile.Read(ref _home) is { } home)
            {
                return ForwardGetAsync(home, cancellationToken);
            }

            // I11: a snapshot left behind by InvalidateAll is replaced by its invalidated successor before anything in
            // it is served or joined; the candidate below is then installed in the current epoch.
            var snapshot = Settle(_cell.Current);
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
                    Count(ref _coalesced, _instruments.CallersCoalesced);
                    Log.Core.Joined(_logger, _options.Name, pending.Generation);
                    return JoinAsync(pending, cancellationToken);
                }

                // Every waiter left this one and its work is being cancelled: remove it (I6) and try again.
                RemoveFailed(pending);
                continue;
            }

            // I2: install the next generation's acquisition with one CAS against the snapshot that had none; only the
            // winner starts it, a loser re-reads and joins the winner's.
            var candidate = new Acquisition<T>(this, snapshot.Generation + 1, snapshot.Retired, isBackgroundRefresh: false);
            if (_cell.TryReplace(snapshot, snapshot.WithPending(candidate)))
            {
                Count(ref _started, _instruments.AcquisitionsStarted);
                Log.Core.Started(_logger, _options.Name, candidate.Generation, background: false);
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
        // I3: one CAS (retried on contention) replaces whatever is current by an empty snapshot of the next
        // generation; the acquisition in flight can no longer pass its own publishing CAS.
        var (before, after) = _cell.Update(static (s, epoch) => s.WithInvalidated(Math.Max(epoch, s.Epoch)), _epoch.Value);
        after.AssertInvariants();
        DisposeTimer(before.Timer);
        Count(ref _invalidations, _instruments.Invalidations);
        Log.Core.Invalidated(_logger, _options.Name, after.Generation);

        // Evicted: the key's value, if any, now lives in its current coordinator.
        if (Volatile.Read(ref _home)?.TryResolveExisting() is { } current && !ReferenceEquals(current, this))
        {
            current.Invalidate();
        }
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
            // I11: a value left behind by InvalidateAll is already invalidated; Settle drops it, so it is not judged.
            var snapshot = Settle(_cell.Current);
            if (snapshot.Value is not { } value || !isRejected(value, argument))
            {
                // Evicted: this coordinator holds nothing; the key's value, if any, lives in its current coordinator.
                return Volatile.Read(ref _home)?.TryResolveExisting() is { } current
                    && !ReferenceEquals(current, this)
                    && current.Invalidate(isRejected, argument);
            }

            var next = snapshot.WithRetired();

            // I4: the CAS expects the snapshot whose value the predicate judged, so a stale rejection (the value
            // changed meanwhile) fails here and is re-judged against the new value.
            if (_cell.TryReplace(snapshot, next))
            {
                next.AssertInvariants();
                DisposeTimer(snapshot.Timer);
                Count(ref _invalidations, _instruments.Invalidations);
                Log.Core.Invalidated(_logger, _options.Name, next.Generation);
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

        // I3/I6: like Invalidate (nothing in flight can publish any more), and the work in flight is cancelled.
        var (before, _) = _cell.Update(static (s, epoch) => s.WithInvalidated(Math.Max(epoch, s.Epoch)), _epoch.Value);
        DisposeTimer(before.Timer);
        before.Pending?.CancelShared();
    }

    /// <summary>Whether <see cref="Dispose"/> was called.</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Whether this coordinator may still serve a value matching <paramref name="matches"/> that was produced by the
    /// acquisition of <paramref name="generation"/>: it is neither disposed nor evicted, and it holds such a value or that
    /// very acquisition is still in flight (only the acquisition in flight can publish, and only its own result, I3).
    /// Reads only (no state change); a <see langword="false"/> is final for that value.
    /// </summary>
    internal bool MayHold<TArg>(Func<T, TArg, bool> matches, TArg argument, long generation)
    {
        if (Volatile.Read(ref _disposed) != 0 || Volatile.Read(ref _home) is not null)
        {
            return false;
        }

        var snapshot = _cell.Current;
        return snapshot.Pending?.Generation == generation || (snapshot.Value is { } value && matches(value, argument));
    }

    /// <summary>Whether the map that held this coordinator evicted it (later calls go to the key's current coordinator).</summary>
    internal bool IsEvicted => Volatile.Read(ref _home) is not null;

    /// <summary>
    /// For the map's eviction order: 0 = idle with no value (empty, expired, failed), 1 = idle with a value, 2 = an
    /// acquisition in flight. One volatile read; the answer may be stale by the time the map acts on it.
    /// </summary>
    internal int EvictionRank
    {
        get
        {
            var snapshot = _cell.Current;
            if (snapshot.Epoch != _epoch.Value)
            {
                return 0; // I11: invalidated by InvalidateAll, so it holds nothing that counts
            }

            return snapshot.Pending is not null ? 2 : snapshot.Value is not null ? 1 : 0;
        }
    }

    /// <summary>
    /// Called by the map after the CAS that removed this coordinator's key: drops the value and its timer, never cancels
    /// the acquisition in flight (its waiters still get its result, which is not cached, I3), and sends every later call
    /// to the key's current coordinator in <paramref name="home"/>. Never blocks. Idempotent, and complete when it
    /// returns, whoever calls it: the map's other operations call it again to finish an eviction whose evicting thread
    /// was delayed.
    /// </summary>
    internal void Evict(ICoordinatorHome<T> home)
    {
        // Forwarding first, then the invalidating CAS: a publish that reads _home as unset before its own CAS either
        // precedes this CAS (and is invalidated by it) or fails against it (I3); one that starts later sees _home.
        var first = Interlocked.CompareExchange(ref _home, home, null) is null;

        // I3: one CAS to an empty snapshot of the next generation, unless it is already empty with nothing in flight
        // (then no value can be cached here any more: every publish from now on sees _home).
        var (before, _) = _cell.Update(static (s, _) => s.Value is null && s.Pending is null ? s : s.WithInvalidated(), 0);
        DisposeTimer(before.Timer);
        if (first)
        {
            _instruments.Evictions.Add(1, _tag);
            Log.Core.Evicted(_logger, _options.Name);
        }
    }

    /// <summary>
    /// Called once by the map that creates this coordinator, before the compare-and-swap that publishes it to other
    /// threads: from then on the coordinator's snapshots belong to <paramref name="epoch"/> (I11).
    /// </summary>
    internal void AttachEpoch(InvalidationEpoch epoch)
    {
        _epoch = epoch;

        // I11: a new coordinator holds nothing yet; stamp its empty state with the map's epoch so its first use does not
        // count a spurious invalidation. One CAS against the state just read: if anything replaced it meanwhile (it
        // cannot hold a value of an older epoch either way), Settle handles it.
        var snapshot = _cell.Current;
        if (snapshot.Value is null && snapshot.Pending is null && snapshot.Epoch != epoch.Value)
        {
            _cell.TryReplace(snapshot, snapshot.WithInvalidated(epoch.Value));
        }
    }

    /// <summary>
    /// I11: <paramref name="snapshot"/> if it belongs to the map's current epoch, otherwise the state after replacing it
    /// by its invalidated successor (what <see cref="Invalidate()"/> would have made of it). Lazily completes an
    /// <c>InvalidateAll</c>: the map only advanced its epoch, and each coordinator drops what it held on first touch.
    /// </summary>
    private AuthSnapshot<T> Settle(AuthSnapshot<T> snapshot)
    {
        while (true)
        {
            var epoch = _epoch.Value;
            if (snapshot.Epoch == epoch)
            {
                return snapshot;
            }

            var next = snapshot.WithInvalidated(epoch);

            // I11 (and I3): one CAS from the stale snapshot to an empty one of the next generation in the current
            // epoch: the acquisition the stale snapshot held can no longer publish (its generation is gone), and
            // nothing acquired in the old epoch is served. On failure, another thread changed the state: re-check it.
            if (_cell.TryReplace(snapshot, next))
            {
                next.AssertInvariants();
                DisposeTimer(snapshot.Timer);
                if (snapshot.Value is not null || snapshot.Pending is not null)
                {
                    Count(ref _invalidations, _instruments.Invalidations);
                }

                return next;
            }

            snapshot = _cell.Current;
        }
    }

    internal Task<T> InvokeAcquireAsync(AcquisitionContext<T> context, CancellationToken cancellationToken) =>
        _acquire(context, cancellationToken);

    /// <summary>I3: publishes <paramref name="value"/> only if <paramref name="acquisition"/> is still the pending one of its generation.</summary>
    /// <remarks>
    /// Everything that can throw (the expiry delegate, the clock, the schedule arithmetic) runs before the publishing
    /// compare-and-swap, where a throw is a failure of the acquisition (I5, the caller routes it to
    /// <see cref="OnFailed"/>). Nothing after that compare-and-swap throws: the value is cached by then, and its timer
    /// must be armed or the value retired (I7).
    /// </remarks>
    internal void Publish(Acquisition<T> acquisition, T value)
    {
        if (Volatile.Read(ref _home) is not null)
        {
            // Evicted: nothing is cached here any more. Remove the acquisition if it is still installed (it started in
            // the instant of the eviction) with a CAS that expects it, serving I5's "the next caller starts afresh".
            _cell.Update(static (s, a) => ReferenceEquals(s.Pending, a) ? s.WithInvalidated() : s, acquisition);
            Count(ref _discarded, _instruments.Discarded);
            Log.Core.Discarded(_logger, _options.Name, acquisition.Generation);
            return;
        }

        if (_cell.Current.Epoch != _epoch.Value)
        {
            // I11: InvalidateAll ran since the acquisition was installed (a snapshot holding it carries the epoch of its
            // installation). Settle the state, so the next caller starts afresh, and do not cache the result. This is
            // an early exit only: the value's epoch stamp, not this check, is what keeps a value acquired before an
            // InvalidateAll from being served after it (see the CAS below).
            Settle(_cell.Current);
            Count(ref _discarded, _instruments.Discarded);
            return;
        }

        var completed = Task.FromResult(value);
        var expiresAt = _expiresAt(value);
        while (true)
        {
            var snapshot = _cell.Current;
            if (!ReferenceEquals(snapshot.Pending, acquisition) || snapshot.Generation != acquisition.Generation)
            {
                Count(ref _discarded, _instruments.Discarded);
                Log.Core.Discarded(_logger, _options.Name, acquisition.Generation);
                return;
            }

            var now = _time.GetUtcNow();
            var next = snapshot.WithPublished(value, completed, expiresAt, now, _options);

            // I3: the expected snapshot still holds this acquisition in its own generation, so an invalidation that
            // happened since it was installed makes this CAS fail and the result is not cached.
            // I11: the published snapshot keeps the epoch of the expected one, which is the epoch the acquisition was
            // installed in. If InvalidateAll advanced the map's epoch after the check above, this CAS still succeeds,
            // but the value is stamped with the old epoch: the fast path and Settle treat it as invalidated, so it is
            // never served after InvalidateAll returned.
            if (_cell.TryReplace(snapshot, next))
            {
                next.AssertInvariants();
                DisposeTimer(snapshot.Timer);
                Interlocked.Increment(ref _published);
                Log.Core.Published(_logger, _options.Name, acquisition.Generation);
                Arm(next, now);
                return;
            }
        }
    }

    /// <summary>I5: a failed (or cancelled) acquisition is removed, so the next caller starts a fresh one; the failure is counted and reported.</summary>
    internal void OnFailed(Acquisition<T> acquisition, Exception exception)
    {
        var background = acquisition.Context.IsBackgroundRefresh;
        Interlocked.Increment(ref _failed);
        _instruments.Failures.Add(1, _tag, background ? AuthMetrics.BackgroundRefreshTag : AuthMetrics.ForegroundTag);
        Log.Core.Failed(_logger, _options.Name, acquisition.Generation, exception.GetType(), background);
        RemoveFailed(acquisition);

        if (OnAcquisitionFailed is { } report && !(exception is OperationCanceledException && acquisition.IsCancellationRequested))
        {
            try
            {
                report(exception, background);
            }
            catch (Exception)
            {
                // A failing log sink must not change what the waiters see (the acquisition's own exception).
            }
        }
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

            // I5: removes only this acquisition (the expected snapshot holds it), so the next caller installs a
            // fresh one in a new generation; a still-usable value stays (I7).
            if (_cell.TryReplace(snapshot, next))
            {
                next.AssertInvariants();
                Reschedule(next, now);
                return;
            }
        }
    }

    private Task<T> ForwardGetAsync(ICoordinatorHome<T> home, CancellationToken cancellationToken)
    {
        AuthCoordinator<T> current;
        try
        {
            current = home.Resolve();
        }
        catch (Exception exception)
        {
            // The map was disposed (ObjectDisposedException) or its factory failed: delivered like any failure of GetAsync.
            return Task.FromException<T>(exception);
        }

        return ReferenceEquals(current, this)
            ? Task.FromException<T>(new InvalidOperationException("The map's factory returned a coordinator it had already evicted; it must create a new one per call."))
            : current.GetAsync(cancellationToken);
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

    /// <summary>
    /// A cancellable caller's own wait: ends with the shared task, or when <paramref name="cancellationToken"/> is
    /// cancelled first. Built from a <see cref="TaskCompletionSource"/> completed by the token's callback and
    /// <see cref="Task.WhenAny(Task, Task)"/>, which Coyote controls (it does not control <c>Task.WaitAsync</c>).
    /// </summary>
    private static async Task<T> WaitCancellableAsync(Acquisition<T> acquisition, Task<T> shared, CancellationToken cancellationToken)
    {
        // Without RunContinuationsAsynchronously: the wait ends on the cancelling thread, as Task.WaitAsync's does.
        var cancelled = new TaskCompletionSource();
        var registration = cancellationToken.Register(static state => ((TaskCompletionSource)state!).TrySetResult(), cancelled);
#pragma warning disable VSTHRD003 // The shared acquisition's task and this wait's own cancellation signal; nothing blocks on either.
        try
        {
            if (await Task.WhenAny(shared, cancelled.Task).ConfigureAwait(false) != shared)
            {
                if (!shared.IsCompleted)
                {
                    // I6: only this caller's wait ends; the last one to leave cancels the shared work.
                    acquisition.Leave();
                }

                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            // Unregister never waits for a callback running on another thread (Dispose would).
            registration.Unregister();
        }

        return await shared.ConfigureAwait(false);
#pragma warning restore VSTHRD003
    }

    // Timers: a value with an expiry gets one timer, created after the value was published and attached with a
    // second CAS. Whoever replaces a snapshot disposes the timer it carried; a timer attached to a snapshot that
    // is no longer current is disposed by the thread whose attach CAS failed. A stale callback is harmless: it
    // re-reads the cell and acts only on the value generation it was armed for.
    //
    // Due times are clamped to ClockCheckInterval (at most MaxTimerDueTime, the largest a system timer accepts), so
    // creating or changing a timer never throws for a long-lived value; a clamped timer fires early, finds nothing
    // due, and re-arms for the rest (OnTimer). These methods run after a publishing CAS or inside a timer callback,
    // so they never throw: if the TimeProvider fails to create or change a timer anyway, the value is retired
    // (fail closed) rather than served without a schedule.
    private void Arm(AuthSnapshot<T> published, DateTimeOffset now)
    {
        if (published.Value is null || NextDeadline(published, now) is not { } due)
        {
            return;
        }

        ITimer timer;
        try
        {
            timer = _time.CreateTimer(
                static state => ((TimerState)state!).Fire(),
                new TimerState(this, published.ValueGeneration),
                due,
                Timeout.InfiniteTimeSpan);
        }
        catch (Exception)
        {
            // I7: never serve a value whose expiry nothing enforces. If the CAS fails the value was already replaced.
            Retire(published);
            return;
        }

        // Attaches the timer only to the snapshot just published: if anything replaced it meanwhile, the replacer
        // owns the schedule (I-S5: no timer without its value), and this timer must go.
        if (!_cell.TryReplace(published, published.WithTimer(timer)))
        {
            DisposeTimer(timer);
        }
    }

    private void Reschedule(AuthSnapshot<T> snapshot, DateTimeOffset now)
    {
        if (snapshot.Timer is not { } timer || NextDeadline(snapshot, now) is not { } due)
        {
            return;
        }

        try
        {
            timer.Change(due, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Benign: the snapshot was replaced meanwhile and its replacer disposed the timer.
        }
        catch (Exception)
        {
            // The timer could not be re-armed: retire the value (fail closed) rather than serve it unscheduled (I7).
            Retire(snapshot);
        }
    }

    /// <summary>The delay until the snapshot's next deadline (refresh-ahead, else expiry), clamped to <see cref="AuthCoordinatorOptions.ClockCheckInterval"/>.</summary>
    private TimeSpan? NextDeadline(AuthSnapshot<T> snapshot, DateTimeOffset now)
    {
        DateTimeOffset? at = snapshot.Pending is null && snapshot.IsFresh && snapshot.RefreshAt is { } refresh && refresh < (snapshot.UsableUntil ?? DateTimeOffset.MaxValue)
            ? refresh
            : snapshot.UsableUntil;
        if (at is not { } when)
        {
            return null;
        }

        var due = when - now;
        var cap = _options.ClockCheckInterval;
        return due <= TimeSpan.Zero ? TimeSpan.Zero : due > cap ? cap : due;
    }

    private static void DisposeTimer(ITimer? timer)
    {
        try
        {
            timer?.Dispose();
        }
        catch (Exception)
        {
            // Called after a CAS: nothing may throw. A timer that failed to dispose fires into a stale value
            // generation, which its callback ignores.
        }
    }

    /// <summary>Timer callback: retire an expired value, or mark its refresh as due (I7).</summary>
    internal void OnTimer(long valueGeneration)
    {
        while (true)
        {
            // I11: a value left behind by InvalidateAll is dropped here (and its timer disposed), not retired for reuse.
            var snapshot = Settle(_cell.Current);
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

                // I7: switches the fast path off only for the value generation this timer was armed for.
                if (_cell.TryReplace(snapshot, due))
                {
                    due.AssertInvariants();
                    Reschedule(due, now);
                    return;
                }

                continue;
            }

            // Nothing due yet: a timer clamped to ClockCheckInterval fired early (or the clock moved back). Re-arm for
            // the next deadline of this very snapshot, which is again clamped; RefreshAt and UsableUntil are both
            // reached this way, one interval at a time, each step re-reading the clock.
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

        // I2: one background acquisition per generation; the CAS expects the snapshot with no acquisition in flight.
        if (!_cell.TryReplace(snapshot, next))
        {
            return false;
        }

        next.AssertInvariants();
        Count(ref _started, _instruments.AcquisitionsStarted);
        Log.Core.Started(_logger, _options.Name, candidate.Generation, background: true);
        Reschedule(next, now);
        candidate.Start();
        return true;
    }

    private bool Retire(AuthSnapshot<T> snapshot)
    {
        var retired = snapshot.WithRetired();

        // I7: retires exactly the value that was found unusable; if the snapshot changed, the caller re-reads.
        if (!_cell.TryReplace(snapshot, retired))
        {
            return false;
        }

        retired.AssertInvariants();
        DisposeTimer(snapshot.Timer);
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
