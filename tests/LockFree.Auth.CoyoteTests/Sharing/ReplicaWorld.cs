using LockFree.Auth.CoyoteTests.Harness;
using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Sharing;

/// <summary>Where the first lease holder of a scenario stops (crashes, or pauses until the scenario resumes it).</summary>
internal enum HolderStop
{
    None,

    /// <summary>Its lease was granted; nothing else happened.</summary>
    AfterLease,

    /// <summary>Its exchange request reached the token endpoint (which spends the refresh token); the response is lost.</summary>
    DuringExchange,

    /// <summary>It received the new token set; its publication never reaches the store.</summary>
    AfterExchange,

    /// <summary>Its publication reached the store (and notified); it never returns.</summary>
    AfterPublish,
}

/// <summary>
/// One scenario's replicas: K processes of one client identity, each its own <see cref="AuthCoordinator{T}"/> over its
/// own <see cref="SharedTokenAcquisition"/>, sharing one real <see cref="InMemorySharedTokenStore"/> (the model with the
/// atomic semantics of the Redis scripts), a <see cref="ControlledClock"/> and a rotating token endpoint.
/// </summary>
/// <remarks>
/// <para>
/// Each replica sees the store through its own <see cref="ReplicaStore"/>: every transition (read, lease, publish,
/// release, invalidate-if) is the real store's, one atomic step; only <see cref="ISharedTokenStore.WaitForChangeAsync"/>
/// is the scenario's own controlled equivalent, because the store's wait uses <c>Task.Delay(TimeProvider)</c> and
/// <c>CancellationTokenSource.CancelAsync</c>, which start work on the real thread pool that Coyote cannot control
/// (spec/coyote.md, "Replica scenarios"). Its semantics are the store's: the wake-up is taken before the re-read (no lost
/// wake-up), a publication, release or invalidation wakes every waiter, and the bound elapses on the clock.
/// </para>
/// <para>
/// Time is driven by <see cref="DriveAsync"/>: the clock moves only when every live replica that still has work is parked
/// in a bounded wait (nothing can progress without time), and then only to the earliest deadline; so controlled time
/// counts exactly the waits the protocol needed, whatever the interleaving. A crashed holder is modelled by its task
/// being abandoned at the chosen step: none of its later store or endpoint calls happen, its lease runs out on the
/// clock. At the end <see cref="DisposeAsync"/> buries crashed replicas, disposes every coordinator, waits until every
/// acquisition ended and drains the endpoint (nothing started by the scenario outlives its iteration).
/// </para>
/// </remarks>
internal sealed class ReplicaWorld : IAsyncDisposable
{
    public const string Key = "client-a";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);
    public static readonly TimeSpan LeaseTimeToLive = TimeSpan.FromSeconds(4);
    public static readonly TimeSpan FallbackReadInterval = TimeSpan.FromSeconds(2);

    private readonly object _gate = new();
    private readonly List<ParkedWait> _waits = [];
    private TaskCompletionSource _changed = new();
    private readonly TaskCompletionSource _hold = new();
    private Replica? _victim;
    private bool _stopped;
    private bool _buried;

    public ReplicaWorld(int replicas, Func<ISharedTokenStore, ISharedTokenStore>? seededBug = null, HolderStop stop = HolderStop.None)
    {
        Clock = new ControlledClock();
        Inner = new InMemorySharedTokenStore(Clock);
        Store = seededBug is null ? Inner : seededBug(Inner);
        Endpoint = new RotatingTokenEndpoint(Clock, Lifetime);
        Stop = stop;
        Replicas = [.. Enumerable.Range(0, replicas).Select(i => new Replica(this, ((char)('A' + i)).ToString()))];
    }

    public ControlledClock Clock { get; }

    /// <summary>The real store (assertions read it directly).</summary>
    public InMemorySharedTokenStore Inner { get; }

    /// <summary>What the replicas' transitions go to: the real store, or a seeded-bug twin around it.</summary>
    public ISharedTokenStore Store { get; }

    public RotatingTokenEndpoint Endpoint { get; }
    public HolderStop Stop { get; }
    public IReadOnlyList<Replica> Replicas { get; }

    /// <summary>The replica that took the first lease of the scenario (the one <see cref="Stop"/> applies to).</summary>
    public Replica? Victim
    {
        get
        {
            lock (_gate)
            {
                return _victim;
            }
        }
    }

    /// <summary>Controlled time the driver advanced so far.</summary>
    public TimeSpan Advanced { get; private set; }

    public static SharedTokenOptions SharingOptions() => new()
    {
        StorePlainText = true,
        LeaseTimeToLive = LeaseTimeToLive,
        FallbackReadInterval = FallbackReadInterval,
        MaxWait = TimeSpan.FromMinutes(1),
        Name = "coyote-shared",
    };

    /// <summary>Publishes a first record (version 1) holding a token set the endpoint issued; expired or usable.</summary>
    public async Task<TokenContainer> SeedRecordAsync(bool expired)
    {
        var token = Endpoint.IssueSeed(expired ? Clock.GetUtcNow() - (2 * Lifetime) : Clock.GetUtcNow());
        var lease = await Inner.TryAcquireLeaseAsync(Key, 0, "seed", LeaseTimeToLive, CancellationToken.None);
        var published = await Inner.PublishAsync(Key, lease, Value(token), CancellationToken.None);
        Specification.Assert(published.IsPublished && published.Version == 1, "Harness: the seed record was not published as version 1.");
        return token;
    }

    /// <summary>The record now, with its token set (null: none).</summary>
    public async Task<(SharedTokenRecord? Record, TokenContainer? Token)> ReadRecordAsync()
    {
        var record = await Inner.ReadAsync(Key, CancellationToken.None);
        return (record, record is null ? null : SharedTokenPayload.Deserialize(record.Value.ProtectedPayload.Span));
    }

    internal static SharedTokenValue Value(TokenContainer token) =>
        new(SharedTokenPayload.Serialize(token), SharedTokenPayload.Fingerprint(token.AccessToken), token.ExpiresAt);

    /// <summary>
    /// Drives the clock until every live replica's callers finished: waits for progress while anything can progress,
    /// and moves the clock to the earliest deadline of a parked wait only when every live replica with work is parked.
    /// Fails, naming <paramref name="property"/>, when that needs more than <paramref name="bound"/> of controlled time.
    /// </summary>
    public async Task DriveAsync(TimeSpan bound, string property)
    {
        while (true)
        {
            Task changed;
            DateTimeOffset? next;
            lock (_gate)
            {
                var live = Replicas.Where(r => !IsStopped(r)).ToArray();
                if (live.All(r => r.Unfinished == 0))
                {
                    return;
                }

                changed = _changed.Task;
                next = live.All(r => r.Active == ParkedOf(r) && (r.Unfinished == 0 || r.Active > 0))
                    ? _waits.Where(w => w.State == WaitState.Parked && !IsStopped(w.Replica)).Select(w => (DateTimeOffset?)w.Deadline).Min()
                    : null;
            }

            if (next is not { } at)
            {
                await changed;
                continue;
            }

            var by = at - Clock.GetUtcNow();
            if (by < TimeSpan.Zero)
            {
                by = TimeSpan.Zero;
            }

            Advanced += by;
            if (Advanced > bound)
            {
                string stuck;
                lock (_gate)
                {
                    stuck = string.Join("; ", Replicas.Where(r => r.Unfinished > 0 && !IsStopped(r)).Select(r => $"replica {r.Name}: {r.Unfinished} caller(s) waiting"));
                }

                Specification.Assert(false,
                    $"{property}: the replicas needed more than {bound.TotalSeconds:0.###} s of clock time ({Advanced.TotalSeconds:0.###} s so far; {stuck}).");
            }

            Clock.Advance(by);
            FireDue();
        }
    }

    /// <summary>Wakes every parked wait whose deadline has come (the bound of the store's wait elapsed).</summary>
    private void FireDue()
    {
        List<ParkedWait> due = [];
        var now = Clock.GetUtcNow();
        Track(() =>
        {
            due = [.. _waits.Where(w => w.State == WaitState.Parked && w.Deadline <= now)];
            foreach (var w in due)
            {
                w.State = WaitState.Woken;
            }
        });
        foreach (var w in due)
        {
            w.Wake.TrySetResult();
        }
    }

    /// <summary>Something changed that the driver may be waiting for.</summary>
    public void Ping() => Track(static () => { });

    /// <summary>
    /// Applies <paramref name="change"/> to the harness' bookkeeping and wakes the driver, under one lock: the harness
    /// adds as few scheduling points as it can to the explored program (every lock is one).
    /// </summary>
    public void Track(Action change)
    {
        TaskCompletionSource old;
        lock (_gate)
        {
            change();
            old = _changed;
            _changed = new TaskCompletionSource();
        }

        old.TrySetResult();
    }

    /// <summary>The store's notification: wakes every waiter (parked or about to park).</summary>
    public void Notify()
    {
        List<ParkedWait> woken = [];
        Track(() =>
        {
            woken = [.. _waits.Where(w => w.State != WaitState.Woken)];
            foreach (var w in woken)
            {
                w.State = WaitState.Woken;
            }
        });
        foreach (var w in woken)
        {
            w.Wake.TrySetResult();
        }
    }

    /// <summary>The controlled equivalent of the store's bounded wait (see the remarks).</summary>
    public async ValueTask WaitForChangeAsync(Replica replica, string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken)
    {
        // The wake-up first, then the read: a change after the read wakes this wait (no lost wake-up).
        var wait = new ParkedWait(replica, Clock.GetUtcNow() + bound);
        lock (_gate)
        {
            _waits.Add(wait);
        }

        try
        {
            var record = await Store.ReadAsync(key, cancellationToken);
            if ((record?.Version ?? 0) != knownVersion)
            {
                return;
            }

            Track(() =>
            {
                if (wait.State == WaitState.Registered)
                {
                    wait.State = WaitState.Parked;
                }
            });
            var registration = cancellationToken.Register(static state => ((ParkedWait)state!).Cancel(), wait);
            try
            {
                await wait.Wake.Task;
            }
            finally
            {
                registration.Unregister();
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            Track(() =>
            {
                wait.State = WaitState.Woken;
                _waits.Remove(wait);
            });
        }
    }

    private int ParkedOf(Replica replica) => _waits.Count(w => w.Replica == replica && w.State == WaitState.Parked);

    private bool IsStopped(Replica replica) => _stopped && replica == _victim;

    /// <summary>Called on every granted lease: the first one names the victim.</summary>
    public void OnGranted(Replica replica)
    {
        if (Stop == HolderStop.None)
        {
            return;
        }

        lock (_gate)
        {
            _victim ??= replica;
        }
    }

    /// <summary>Whether <paramref name="replica"/> stops at <paramref name="point"/>.</summary>
    public bool StopsAt(Replica replica, HolderStop point)
    {
        if (Stop != point)
        {
            return false;
        }

        lock (_gate)
        {
            return Stop == point && replica == _victim && !_stopped;
        }
    }

    /// <summary>The victim stops here: crashed (buried at the end) or paused (until <see cref="Resume"/>).</summary>
    public async Task StopHereAsync()
    {
        Track(() => _stopped = true);
        await _hold.Task;
    }

    /// <summary>Whether the victim stopped (reached its stop point).</summary>
    public bool VictimStopped
    {
        get
        {
            lock (_gate)
            {
                return _stopped;
            }
        }
    }

    /// <summary>The paused victim goes on as if nothing happened (a GC pause, a suspended VM): a stale holder comes back.</summary>
    public void Resume()
    {
        Track(() => _stopped = false);
        _hold.TrySetResult();
    }

    /// <summary>A crashed replica's process is gone: whatever of it still runs fails at its next step, touching nothing shared.</summary>
    public void ThrowIfBuried(Replica replica)
    {
        if (Stop == HolderStop.None)
        {
            return;
        }

        lock (_gate)
        {
            if (_buried && replica == _victim)
            {
                throw new ReplicaCrashedException(replica.Name);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        bool crashed;
        lock (_gate)
        {
            crashed = _stopped;
            _buried = _stopped;
        }

        if (crashed)
        {
            _hold.TrySetException(new ReplicaCrashedException(_victim!.Name));
        }

        foreach (var r in Replicas)
        {
            r.Coordinator.Dispose();
        }

        // Every acquisition (callers', background refreshes, the buried one) ends: their waits and exchanges were cancelled.
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (Replicas.All(r => r.Active == 0 && r.Unfinished == 0))
                {
                    break;
                }

                changed = _changed.Task;
            }

            await changed;
        }

        await Endpoint.DrainAsync();
    }

    private enum WaitState
    {
        Registered,
        Parked,
        Woken,
    }

    private sealed class ParkedWait(Replica replica, DateTimeOffset deadline)
    {
        public Replica Replica { get; } = replica;
        public DateTimeOffset Deadline { get; } = deadline;
        public WaitState State { get; set; }

        // Not RunContinuationsAsynchronously (spec/coyote.md).
        public TaskCompletionSource Wake { get; } = new();

        public void Cancel() => Wake.TrySetResult();
    }
}

/// <summary>One replica (process): its coordinator, its shared acquisition, its view of the store, its callers.</summary>
internal sealed class Replica
{
    private readonly ReplicaWorld _world;
    private readonly List<Task<Outcome>> _calls = []; // changed and read only under the world's Track lock
    private int _active;
    private int _unfinished;
    private int _holders;

    public Replica(ReplicaWorld world, string name)
    {
        _world = world;
        Name = name;
        Shared = new SharedTokenAcquisition(new ReplicaStore(world, this), ReplicaWorld.Key, ExchangeAsync, ReplicaWorld.SharingOptions(), world.Clock)
        {
            // Deterministic holder ids: Guid.NewGuid (the product's) is an invocation Coyote cannot control.
            NewHolder = () => $"{Name}-{Interlocked.Increment(ref _holders)}",
        };
        Coordinator = new AuthCoordinator<TokenContainer>(AcquireAsync, static t => t.ExpiresAt, world.Clock, World.Options);
    }

    public string Name { get; }
    public SharedTokenAcquisition Shared { get; }
    public AuthCoordinator<TokenContainer> Coordinator { get; }
    /// <summary>Acquisitions of this replica's coordinator in progress (read under the world's lock).</summary>
    public int Active => _active;

    /// <summary>Callers of this replica not finished yet (read under the world's lock).</summary>
    public int Unfinished => _unfinished;

    public IReadOnlyList<Task<Outcome>> Calls
    {
        get
        {
            IReadOnlyList<Task<Outcome>> calls = [];
            _world.Track(() => calls = [.. _calls]);
            return calls;
        }
    }

    /// <summary>A caller of this replica: <paramref name="work"/> on its own task, tracked until it ended.</summary>
    public Task<Outcome> Run(Func<Task<TokenContainer>> work)
    {
        _world.Track(() => _unfinished++);
        var call = Task.Run(async () =>
        {
            try
            {
                return new Outcome(await work(), null);
            }
            catch (Exception ex)
            {
                return new Outcome(null, ex);
            }
            finally
            {
                _world.Track(() => _unfinished--);
            }
        });
        _world.Track(() => _calls.Add(call));
        return call;
    }

    /// <summary>A caller asking this replica's coordinator for a token.</summary>
    public Task<Outcome> Get() => Run(() => Coordinator.GetAsync());

    private async Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        _world.Track(() => _active++);
        try
        {
            return await Shared.AcquireAsync(context, cancellationToken);
        }
        finally
        {
            _world.Track(() => _active--);
        }
    }

    private async Task<TokenContainer> ExchangeAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        _world.ThrowIfBuried(this);
        var response = _world.Endpoint.ExchangeAsync(Name, context.Previous, cancellationToken);
        if (_world.StopsAt(this, HolderStop.DuringExchange))
        {
            await _world.StopHereAsync(); // the request is out (the endpoint spends the refresh token); the answer is lost
        }

        return await response;
    }
}

/// <summary>A replica's view of the shared store: the real transitions, the crash points, the controlled wait.</summary>
internal sealed class ReplicaStore(ReplicaWorld world, Replica replica) : ISharedTokenStore
{
    public ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken)
    {
        world.ThrowIfBuried(replica);
        return world.Store.ReadAsync(key, cancellationToken);
    }

    public async ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
    {
        world.ThrowIfBuried(replica);
        var lease = await world.Store.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);
        if (lease.Status == SharedLeaseStatus.Granted)
        {
            world.OnGranted(replica);
            if (world.StopsAt(replica, HolderStop.AfterLease))
            {
                await world.StopHereAsync();
            }
        }

        return lease;
    }

    public async ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken)
    {
        world.ThrowIfBuried(replica);
        if (world.StopsAt(replica, HolderStop.AfterExchange))
        {
            await world.StopHereAsync();
            world.ThrowIfBuried(replica);
        }

        var result = await world.Store.PublishAsync(key, lease, value, cancellationToken);
        if (result.IsPublished)
        {
            world.Notify();
        }

        if (world.StopsAt(replica, HolderStop.AfterPublish))
        {
            await world.StopHereAsync();
        }

        return result;
    }

    public async ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken)
    {
        world.ThrowIfBuried(replica);
        await world.Store.ReleaseLeaseAsync(key, lease, cancellationToken);
        world.Notify(); // the store notifies only if the lease was still this holder's; one more wake-up is harmless
    }

    public async ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken)
    {
        world.ThrowIfBuried(replica);
        var retired = await world.Store.InvalidateIfAsync(key, fingerprint, cancellationToken);
        if (retired)
        {
            world.Notify();
        }

        return retired;
    }

    public ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken)
    {
        world.ThrowIfBuried(replica);
        return world.WaitForChangeAsync(replica, key, knownVersion, bound, cancellationToken);
    }
}

internal sealed class ReplicaCrashedException(string replica) : Exception($"replica {replica} crashed");
