using LockFree.Auth.CoyoteTests.Harness;

namespace LockFree.Auth.CoyoteTests.SeededBugs;

/// <summary>The seeded bugs that need an edit inside the coordinator's algorithm.</summary>
internal enum CoordinatorBug
{
    /// <summary>No edit: the control. The copy must pass the scenarios the bugs are tested with.</summary>
    None,

    /// <summary>Publish without checking that the acquisition is still the pending one of its generation (invalidation lost).</summary>
    PublishWithoutGenerationCheck,

    /// <summary>The shared acquisition runs on the installing (first) caller's CancellationToken.</summary>
    SharedWorkOnFirstCallersToken,
}

/// <summary>
/// A copy of the real <see cref="AuthCoordinator{T}"/> algorithm (GetAsync slow path, join/leave, publish, failure,
/// both invalidations) with exactly one edit per <see cref="CoordinatorBug"/>, each marked "SEEDED BUG". Timers,
/// metrics and Dispose are left out: the scenarios these bugs are tested with do not use them. The copy exists only
/// because the real acquisition and snapshot are bound to the sealed real coordinator; the control test
/// (<see cref="CoordinatorBug.None"/>) proves that without its edit the copy passes the same scenarios, so what
/// Coyote finds is the edit.
/// </summary>
internal sealed class SeededCoordinator(TokenServer server, CoordinatorBug bug) : ITokenCoordinator
{
    private SeededSnapshot _current = SeededSnapshot.Empty;

    private SeededSnapshot Current => Volatile.Read(ref _current);

    private bool TryReplace(SeededSnapshot expected, SeededSnapshot next) =>
        ReferenceEquals(Interlocked.CompareExchange(ref _current, next, expected), expected);

    public Task<TokenContainer> GetAsync(CancellationToken cancellationToken = default) =>
        Current.Cached ?? GetSlowAsync(cancellationToken);

    private Task<TokenContainer> GetSlowAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TokenContainer>(cancellationToken);
        }

        while (true)
        {
            var snapshot = Current;
            if (snapshot.Cached is { } cached)
            {
                return cached;
            }

            if (snapshot.Pending is { } pending)
            {
                if (pending.TryJoin())
                {
                    return JoinAsync(pending, cancellationToken);
                }

                RemoveFailed(pending);
                continue;
            }

            // SEEDED BUG (SharedWorkOnFirstCallersToken): the work gets the installing caller's token instead of
            // the acquisition's own.
            var workToken = bug == CoordinatorBug.SharedWorkOnFirstCallersToken ? cancellationToken : (CancellationToken?)null;
            var candidate = new SeededAcquisition(this, snapshot.Generation + 1, snapshot.Retired, workToken);
            if (TryReplace(snapshot, snapshot.WithPending(candidate)))
            {
                candidate.Start();
                return JoinAsync(candidate, cancellationToken);
            }
        }
    }

    public void Invalidate()
    {
        while (true)
        {
            var snapshot = Current;
            if (TryReplace(snapshot, snapshot.WithInvalidated()))
            {
                return;
            }
        }
    }

    public bool Invalidate<TArg>(Func<TokenContainer, TArg, bool> isRejected, TArg argument)
    {
        while (true)
        {
            var snapshot = Current;
            if (snapshot.Value is not { } value || !isRejected(value, argument))
            {
                return false;
            }

            if (TryReplace(snapshot, snapshot.WithRetired()))
            {
                return true;
            }
        }
    }

    public SnapshotView Inspect()
    {
        var s = Current;
        return new SnapshotView(s.FindInvariantViolation(), s.Value, s.ValueGeneration, s.Pending is not null, s.ToString());
    }

    public void Dispose()
    {
    }

    internal Task<TokenContainer> InvokeAcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken) =>
        server.AcquireAsync(context, cancellationToken);

    internal void Publish(SeededAcquisition acquisition, TokenContainer value)
    {
        var completed = Task.FromResult(value);
        while (true)
        {
            var snapshot = Current;
            // SEEDED BUG (PublishWithoutGenerationCheck): the check below is skipped, so a result of an invalidated
            // generation is published over the invalidation.
            if (bug != CoordinatorBug.PublishWithoutGenerationCheck &&
                (!ReferenceEquals(snapshot.Pending, acquisition) || snapshot.Generation != acquisition.Generation))
            {
                return;
            }

            if (TryReplace(snapshot, snapshot.WithPublished(value, completed)))
            {
                return;
            }
        }
    }

    internal void OnFailed(SeededAcquisition acquisition) => RemoveFailed(acquisition);

    private void RemoveFailed(SeededAcquisition acquisition)
    {
        while (true)
        {
            var snapshot = Current;
            if (!ReferenceEquals(snapshot.Pending, acquisition))
            {
                return;
            }

            if (TryReplace(snapshot, snapshot.WithFailed()))
            {
                return;
            }
        }
    }

    private static Task<TokenContainer> JoinAsync(SeededAcquisition acquisition, CancellationToken cancellationToken)
    {
        var shared = acquisition.Result.Value;
        if (!cancellationToken.CanBeCanceled || shared.IsCompleted)
        {
            return shared;
        }

        return WaitCancellableAsync(acquisition, shared, cancellationToken);
    }

    private static async Task<TokenContainer> WaitCancellableAsync(SeededAcquisition acquisition, Task<TokenContainer> shared, CancellationToken cancellationToken)
    {
        var cancelled = new TaskCompletionSource();
        var registration = cancellationToken.Register(static state => ((TaskCompletionSource)state!).TrySetResult(), cancelled);
        try
        {
            if (await Task.WhenAny(shared, cancelled.Task).ConfigureAwait(false) != shared)
            {
                if (!shared.IsCompleted)
                {
                    acquisition.Leave();
                }

                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            registration.Unregister();
        }

        return await shared.ConfigureAwait(false);
    }
}

/// <summary>Copy of <c>Acquisition&lt;T&gt;</c>: shared task owned as a TaskCompletionSource, work started by the installer, PublicationOnly Lazy handle, ref-counted waiters.</summary>
internal sealed class SeededAcquisition
{
    private const int Abandoned = -1;
    private readonly CancellationTokenSource _cts = new();
    private readonly CancellationToken _workToken;
    private readonly TaskCompletionSource<TokenContainer> _result = new();
    private readonly SeededCoordinator _owner;
    private int _waiters = 1;

    internal SeededAcquisition(SeededCoordinator owner, long generation, TokenContainer? previous, CancellationToken? workToken)
    {
        _owner = owner;
        Generation = generation;
        Context = new AcquisitionContext<TokenContainer>(previous, generation, false);
        _workToken = workToken ?? _cts.Token;
        Task = _result.Task;

        Result = new Lazy<Task<TokenContainer>>(() => Task, LazyThreadSafetyMode.PublicationOnly);
    }

    internal long Generation { get; }
    internal AcquisitionContext<TokenContainer> Context { get; }
    internal Task<TokenContainer> Task { get; }
    internal Lazy<Task<TokenContainer>> Result { get; }

    internal void Start() => _ = RunAsync();

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

    internal void Leave()
    {
        if (Interlocked.Decrement(ref _waiters) == 0 && Interlocked.CompareExchange(ref _waiters, Abandoned, 0) == 0)
        {
            _cts.Cancel();
        }
    }

    private async Task RunAsync()
    {
        TokenContainer value;
        try
        {
            value = await _owner.InvokeAcquireAsync(Context, _workToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            _owner.OnFailed(this);
            if (exception is OperationCanceledException cancelled)
            {
                _result.TrySetCanceled(cancelled.CancellationToken);
            }
            else
            {
                _result.TrySetException(exception);
                _ = _result.Task.Exception;
            }

            return;
        }

        _owner.Publish(this, value);
        _result.TrySetResult(value);
    }
}

/// <summary>Copy of the parts of <see cref="AuthSnapshot{T}"/> the copied algorithm uses, with its invariant checks.</summary>
internal sealed record SeededSnapshot
{
    public static SeededSnapshot Empty { get; } = new();

    public long Generation { get; private init; }
    public TokenContainer? Value { get; private init; }
    public Task<TokenContainer>? Cached { get; private init; }
    public long ValueGeneration { get; private init; }
    public TokenContainer? Retired { get; private init; }
    public SeededAcquisition? Pending { get; private init; }

    public SeededSnapshot WithPending(SeededAcquisition a) => this with { Generation = a.Generation, Pending = a };

    public SeededSnapshot WithPublished(TokenContainer value, Task<TokenContainer> completed) =>
        this with { Value = value, Cached = completed, ValueGeneration = Generation, Retired = null, Pending = null };

    public SeededSnapshot WithFailed() => this with { Pending = null };

    public SeededSnapshot WithRetired() => Value is null ? this : this with { Value = null, Cached = null, Retired = Value };

    public SeededSnapshot WithInvalidated() => Empty with { Generation = Generation + 1 };

    public string? FindInvariantViolation()
    {
        if ((Value is null) != (Cached is null)) { return "I-S1: Value and Cached must be both set or both empty."; }
        if (Pending is not null && Pending.Generation != Generation) { return "I-S2: the pending acquisition must belong to the current generation."; }
        if (Value is not null && ValueGeneration > Generation) { return "I-S3: a value cannot come from a future generation."; }
        return null;
    }

    public override string ToString() => $"SeededSnapshot {{ Generation = {Generation}, HasValue = {Value is not null}, ValueGeneration = {ValueGeneration}, Acquiring = {Pending is not null} }}";
}
