namespace LockFree.Auth;

/// <summary>
/// One in-flight acquisition of one generation: a not-yet-started task, the waiters sharing it and the
/// cancellation source that belongs to the coordinator, never to a caller.
/// </summary>
/// <remarks>
/// <para>
/// Shape (see <c>spec/concurrency-contract.md</c>, "Why a cold task behind the Lazy"): the work is a cold
/// <see cref="Task{TResult}"/> created together with the acquisition inside the side-effect-free CAS transform.
/// Exactly one caller, the one whose compare-and-swap installed the acquisition, starts it with
/// <see cref="Start"/>. <see cref="Result"/> is the per-generation <see cref="Lazy{T}"/> handle of the design; it
/// is <see cref="LazyThreadSafetyMode.PublicationOnly"/> and its factory only hands out the already-created
/// task, so no lock is ever taken and no work ever starts inside a <see cref="Lazy{T}"/> factory.
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

    // Owned by the coordinator. Not disposed: it has no timer, and callbacks registered on its token (an
    // HttpClient send) unregister when their operation ends, so the garbage collector reclaims it.
    private readonly CancellationTokenSource _cts = new();

    // Cold until Start; RunSynchronously runs the acquisition's synchronous part on the installer's thread.
    private readonly Task<Task<T>> _start;

    internal Acquisition(AuthCoordinator<T> owner, long generation, T? previous, bool isBackgroundRefresh)
    {
        Owner = owner;
        Generation = generation;
        Context = new AcquisitionContext<T>(previous, generation, isBackgroundRefresh);
        _start = new Task<Task<T>>(static state => ((Acquisition<T>)state!).RunAsync(), this);
        Task = _start.Unwrap();
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
    internal void Start()
    {
        _start.RunSynchronously(TaskScheduler.Default);
        _ = ObserveAsync(Task);
    }

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
    /// Awaits the shared task only so that its exception is observed: it may fault with nobody awaiting it (a
    /// background refresh, or a foreground acquisition whose cancellable waiters all left), and it must never reach
    /// <see cref="TaskScheduler.UnobservedTaskException"/>. The failure itself is counted and reported by
    /// <c>OnFailed</c>. An <c>await</c> rather than <c>ContinueWith</c>, which Coyote cannot control.
    /// </summary>
    private static async Task ObserveAsync(Task<T> shared)
    {
        try
        {
#pragma warning disable VSTHRD003 // The acquisition's own task, awaited with ConfigureAwait(false) by nothing that blocks.
            await shared.ConfigureAwait(false);
#pragma warning restore VSTHRD003
        }
        catch (Exception)
        {
            // Observed; the waiters, if any, get the same exception from the shared task.
        }
    }

    private async Task<T> RunAsync()
    {
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
            Owner.OnFailed(this, exception);
            throw;
        }

        return value;
    }
}
