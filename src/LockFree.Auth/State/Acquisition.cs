using LockFree.Auth.Diagnostics;

namespace LockFree.Auth;

/// <summary>
/// One in-flight acquisition of one generation: a not-yet-started piece of work, the waiters sharing it and the
/// cancellation source that belongs to the coordinator, never to a caller.
/// </summary>
/// <remarks>
/// <para>
/// Shape (see <c>spec/concurrency-contract.md</c>, "Why a cold task behind the Lazy"): the acquisition is created
/// inside the side-effect-free CAS transform with its shared task already in place (a
/// <see cref="TaskCompletionSource{TResult}"/> it owns), but its work is a method nobody has called yet. Exactly one
/// caller, the one whose compare-and-swap installed the acquisition, calls <see cref="Start"/>, which runs the work's
/// synchronous part on its own thread (a plain call of an async method) and lets the work complete the shared task.
/// An acquisition whose CAS lost is never started and is collected. <see cref="Result"/> is the per-generation
/// <see cref="Lazy{T}"/> handle of the design; it is <see cref="LazyThreadSafetyMode.PublicationOnly"/> and its factory
/// only hands out the already-created task, so no lock is ever taken and no work ever starts inside a
/// <see cref="Lazy{T}"/> factory.
/// </para>
/// <para>
/// Every construct here is one Coyote controls (a <see cref="TaskCompletionSource"/>, <c>await</c>, Interlocked), so
/// the core's Coyote scenarios run with partially controlled concurrency disabled (<c>spec/coyote.md</c>).
/// </para>
/// <para>
/// Concurrency: <see cref="TryJoin"/> and <see cref="Leave"/> are lock-free (Interlocked on the waiter count);
/// <see cref="Start"/> is called once, by the installer.
/// </para>
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The CTS has no timer and callbacks unregister themselves; a Task needs no disposal. See the field comments.")]
internal sealed class Acquisition<T> where T : class
{
    private const int Abandoned = -1;

    // Waiters sharing this acquisition: > 0 while somebody may still want the result, Abandoned (-1) once the
    // last cancellable waiter left. Starts at 1 for the installer. Written only with Interlocked (full fences),
    // so the waiter that observes 0 and wins the CAS to Abandoned is the only one that cancels _cts.
    // Non-cancellable waiters and background refreshes "pin" the acquisition: they join and never leave.
    private int _waiters = 1;

    // Callers that joined (telemetry only: the span's lockfree.auth.callers.joined). Incremented with Interlocked on
    // the join path (a slow path); read once when the work ends. No decision is based on it.
    private int _joined;

    // Owned by the coordinator. Not disposed: it has no timer, and callbacks registered on its token (an
    // HttpClient send) unregister when their operation ends, so the garbage collector reclaims it.
    private readonly CancellationTokenSource _cts = new();

    // The shared result, completed only by RunAsync. Without RunContinuationsAsynchronously: waiters continue on the
    // thread that completes it, as they did on the task it replaces (and Coyote reports false deadlocks with that
    // option, spec/coyote.md).
    private readonly TaskCompletionSource<T> _result = new();

    internal Acquisition(AuthCoordinator<T> owner, long generation, T? previous, bool isBackgroundRefresh)
    {
        Owner = owner;
        Generation = generation;
        Context = new AcquisitionContext<T>(previous, generation, isBackgroundRefresh);
        Task = _result.Task;

#pragma warning disable VSTHRD011, VSTHRD003 // PublicationOnly takes no lock, and the factory only hands out a task that already exists.
        Result = new Lazy<Task<T>>(() => Task, LazyThreadSafetyMode.PublicationOnly);
#pragma warning restore VSTHRD011, VSTHRD003
    }

    internal AuthCoordinator<T> Owner { get; }

    /// <summary>The generation this acquisition was installed in.</summary>
    internal long Generation { get; }

    internal AcquisitionContext<T> Context { get; }

    /// <summary>The shared result. Completes after the outcome was published (or discarded).</summary>
    internal Task<T> Task { get; }

    /// <summary>The per-generation coalescing handle: every waiter of this generation gets the same task.</summary>
    internal Lazy<Task<T>> Result { get; }

    /// <summary>Whether the coordinator cancelled the shared work (every waiter left, or it was disposed).</summary>
    internal bool IsCancellationRequested => _cts.IsCancellationRequested;

    /// <summary>Starts the work. Called exactly once, by the caller whose compare-and-swap installed this acquisition.</summary>
    internal void Start() => _ = RunAsync(); // never faults: every outcome goes to _result

    /// <summary>Registers one more waiter; fails once the acquisition was abandoned (or is about to be).</summary>
    internal bool TryJoin()
    {
        while (true)
        {
            var count = Volatile.Read(ref _waiters);
            if (count <= 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _waiters, count + 1, count) == count)
            {
                Interlocked.Increment(ref _joined);
                AuthTelemetry.ObserveJoin(Owner.Instruments, Task, Owner.Name);
                return true;
            }
        }
    }

    /// <summary>A cancellable waiter stopped waiting. The last one to leave cancels the shared work.</summary>
    internal void Leave()
    {
        if (Interlocked.Decrement(ref _waiters) == 0 && Interlocked.CompareExchange(ref _waiters, Abandoned, 0) == 0)
        {
            _cts.Cancel();
        }
    }

    /// <summary>Cancels the shared work regardless of waiters (the owner was disposed).</summary>
    internal void CancelShared()
    {
        Interlocked.Exchange(ref _waiters, Abandoned);
        _cts.Cancel();
    }

    /// <summary>
    /// The work: runs synchronously on the installer's thread up to its first incomplete <c>await</c>, then on whatever
    /// completes that. Its own task never faults; the outcome goes to the shared task.
    /// </summary>
    private async Task RunAsync()
    {
        // Telemetry (AuthTelemetry): a span around the work, so back-channel spans nest under it; the duration is
        // recorded when the work ends. Nothing is created when nobody listens.
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var activity = AuthTelemetry.StartAcquisition(Owner.Name, Context.IsBackgroundRefresh);
        T value;
        try
        {
            value = await Owner.InvokeAcquireAsync(Context, _cts.Token).ConfigureAwait(false)
                ?? throw new InvalidOperationException("The acquisition delegate returned null.");

            // Inside the try: whatever Publish throws, it throws before its publishing CAS (the expiry delegate, the
            // clock), so it is a failure of this acquisition and must end the generation like one (I5).
            Owner.Publish(this, value);
        }
        catch (Exception exception)
        {
            AuthTelemetry.EndAcquisition(Owner.Instruments, activity, startedAt, Owner.Name, Context.IsBackgroundRefresh, exception is OperationCanceledException ? "cancelled" : "failed", Volatile.Read(ref _joined));
            try
            {
                Owner.OnFailed(this, exception);
            }
            finally
            {
                Fail(exception);
            }

            return;
        }

        AuthTelemetry.EndAcquisition(Owner.Instruments, activity, startedAt, Owner.Name, Context.IsBackgroundRefresh, "succeeded", Volatile.Read(ref _joined));
        _result.TrySetResult(value);
    }

    /// <summary>
    /// Ends the shared task with the work's failure: cancelled for a cancellation, faulted otherwise. The failure is
    /// marked observed at once: it may have nobody awaiting it (a background refresh, or a foreground acquisition whose
    /// cancellable waiters all left), and it must never reach <see cref="TaskScheduler.UnobservedTaskException"/>. It was
    /// counted and reported by <c>OnFailed</c>; the waiters, if any, get it from the shared task.
    /// </summary>
    private void Fail(Exception exception)
    {
        if (exception is OperationCanceledException cancelled)
        {
            _result.TrySetCanceled(cancelled.CancellationToken);
        }
        else
        {
            _result.TrySetException(exception);
            _ = _result.Task.Exception; // reading it marks the exception observed
        }
    }
}
