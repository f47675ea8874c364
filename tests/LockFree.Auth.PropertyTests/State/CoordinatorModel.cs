using LockFree.Auth.PropertyTests.Support;
using System.Globalization;

namespace LockFree.Auth.PropertyTests.State;

/// <summary>
/// The sequential model of an <see cref="AuthCoordinatorMap{TKey,T}"/> of <see cref="AuthCoordinator{T}"/>s: what
/// spec/concurrency-contract.md says each operation does, written as plain single-threaded code. It knows nothing of
/// snapshots, CAS or tasks; it states the observable outcome (token returned, generation, acquisitions started and
/// their context, what is cached and until when, counters).
/// </summary>
internal sealed class CoordinatorModel(bool observesCancellation, Coverage? coverage = null)
{
    private static readonly AuthCoordinatorOptions Options = Step.Options();

    private readonly SortedDictionary<string, KeyModel> _keys = new(StringComparer.Ordinal);
    private readonly List<CallerModel> _callers = [];
    private DateTimeOffset _now = Step.Origin;
    private string _currentKey = Step.Keys[0];
    private string? _lastResult;

    public List<Observation> Trace { get; } = [];

    public void Apply(Step step)
    {
        _lastResult = null;
        switch (step)
        {
            case Step.Get g: Get(g.Token); break;
            case Step.Complete c: Complete(c.Pick, Step.Lifetimes[c.Lifetime]); break;
            case Step.Fail f: End(f.Pick, "fail"); break;
            case Step.CancelWork w: End(w.Pick, "cancel"); break;
            case Step.CancelCaller c: CancelCaller(c.Pick); break;
            case Step.Invalidate: Invalidate(); break;
            case Step.Reject r: Reject(r.Current); break;
            case Step.Advance a: Advance(a.Kind); break;
            case Step.Dispose: Dispose(); break;
            case Step.InvalidateFromInside: Key().InvalidateOnNextStart = true; break;
            case Step.SwitchKey: _currentKey = _currentKey == Step.Keys[0] ? Step.Keys[1] : Step.Keys[0]; break;
        }

        Trace.Add(Observe(step));
    }

    private void Reach(string situation) => coverage?.Reach(situation);

    private KeyModel Key()
    {
        if (!_keys.TryGetValue(_currentKey, out var k))
        {
            k = new KeyModel(_currentKey);
            _keys.Add(_currentKey, k);
        }

        return k;
    }

    // I1 fast path, I2 one acquisition per generation, I6 (pre-cancelled and cancellable callers), I7 refresh on use.
    private void Get(TokenKind kind)
    {
        var k = Key();
        var caller = new CallerModel(_callers.Count + 1, _currentKey, kind == TokenKind.Cancellable);
        _callers.Add(caller);
        if (_currentKey != Step.Keys[0])
        {
            Reach("second key used");
        }

        if (k.Value is not null && k.Fresh)
        {
            Reach(k.Pending is null ? "served from cache" : "served from cache while refreshing");
            caller.Serve(k.Value);
            return;
        }

        if (kind == TokenKind.PreCancelled)
        {
            Reach("pre-cancelled caller, no usable value");
            caller.Status = "cancel";
            return;
        }

        if (k.Disposed)
        {
            Reach("get after dispose");
            caller.Status = "fault"; // ObjectDisposedException
            return;
        }

        if (k.Value is not null)
        {
            // Refresh is due (timers are exact here, so the value is still usable): the first caller starts the
            // background refresh; every caller is served the cached value at once.
            var served = k.Value;
            k.Fresh = true;
            if (k.Pending is null)
            {
                Reach("background refresh started on use");
                Start(k, background: true);
            }

            caller.Serve(served);
            return;
        }

        while (true)
        {
            if (k.Pending is { } pending)
            {
                if (!pending.Abandoned)
                {
                    Reach(pending.Background ? "joined a background refresh" : "joined an acquisition");
                    k.Coalesced++;
                    Join(pending, caller);
                    return;
                }

                // Every waiter left an acquisition whose work ignores cancellation: the caller removes it and starts anew.
                Reach("abandoned acquisition removed by the next caller");
                k.Pending = null;
                continue;
            }

            Reach(k.Retired is null ? "cold acquisition" : "acquisition after a retired value");
            Join(Start(k, background: false), caller);
            return;
        }
    }

    private AcquisitionModel Start(KeyModel k, bool background)
    {
        k.Generation++;
        k.Started++;
        var a = new AcquisitionModel(k.Acquisitions.Count + 1, k.Generation, background ? k.Value : k.Retired, background, _now)
        {
            // The installer of a background refresh does not wait, and the coordinator wants the result: pinned.
            Pinned = background,
        };
        k.Acquisitions.Add(a);
        k.Pending = a;
        if (k.InvalidateOnNextStart)
        {
            // I9: the acquisition delegate itself calls Invalidate() before it returns; the invalidation wins.
            k.InvalidateOnNextStart = false;
            Reach(background ? "re-entrant invalidate from a background refresh" : "re-entrant invalidate from an acquisition");
            Invalidate(k);
        }

        return a;
    }

    private static void Join(AcquisitionModel a, CallerModel caller)
    {
        caller.WaitingOn = a;
        caller.Status = "wait";
        if (caller.Cancellable)
        {
            a.CancellableWaiters++;
        }
        else
        {
            a.Pinned = true;
        }
    }

    // I3 publication only by the pending acquisition of its generation; I7 schedule and "already expired: not cached".
    private void Complete(int pick, TimeSpan? lifetime)
    {
        var k = Key();
        var open = k.Acquisitions.Where(a => a.Status == "open").ToList();
        if (open.Count == 0)
        {
            return;
        }

        var a = open[pick % open.Count];
        a.Status = "ok";
        var token = k.TokenName(a.Number);
        var expiresAt = lifetime is { } l ? a.StartedAt + l : (DateTimeOffset?)null;
        if (ReferenceEquals(k.Pending, a))
        {
            k.Published++;
            k.Pending = null;
            var (usableUntil, refreshAt) = SnapshotPropertyTests.ExpectedSchedule(expiresAt, _now, Options);
            Reach(lifetime is null ? "published without expiry" : "published with expiry");
            if (usableUntil is { } u && u <= _now && k.Value is not null)
            {
                // A background refresh brought an unusable value: the value being refreshed (usable, timers are
                // exact here) stays and is refreshed again after the retry delay, as after a failure.
                Reach("refresh result expired on arrival: previous value kept");
                k.Fresh = true;
                var retryAt = _now + Options.RefreshRetryDelay;
                k.RefreshAt = k.UsableUntil is { } until && until < retryAt ? until : retryAt;
            }
            else if (usableUntil is { } u2 && u2 <= _now)
            {
                Reach("already expired on arrival: not cached");
                k.ClearValue();
                k.Retired = token;
            }
            else
            {
                k.Value = token;
                k.ExpiresAt = expiresAt;
                k.Fresh = true;
                k.ValueGeneration = k.Generation;
                k.UsableUntil = usableUntil;
                k.RefreshAt = refreshAt;
                k.Retired = null;
            }
        }
        else
        {
            Reach("result discarded (invalidated meanwhile)");
            k.Discarded++;
        }

        foreach (var c in _callers.Where(c => c.WaitingOn == a && c.Status == "wait"))
        {
            c.Status = $"ok:{token}";
        }
    }

    // I5 failure ends the generation (the next caller starts a fresh one; a still-usable value stays).
    private void End(int pick, string outcome)
    {
        var k = Key();
        var open = k.Acquisitions.Where(a => a.Status == "open").ToList();
        if (open.Count != 0)
        {
            Fail(k, open[pick % open.Count], outcome);
        }
    }

    private void Fail(KeyModel k, AcquisitionModel a, string outcome)
    {
        a.Status = outcome;
        k.Failed++;
        Reach(outcome == "fail" ? "acquisition failed" : "acquisition cancelled");
        if (ReferenceEquals(k.Pending, a))
        {
            k.Pending = null;
            if (k.Value is not null)
            {
                Reach("background refresh failed: value kept, retried later");
                k.Fresh = true;
                var retryAt = _now + Options.RefreshRetryDelay;
                k.RefreshAt = k.UsableUntil is { } u && u < retryAt ? u : retryAt;
            }
        }

        foreach (var c in _callers.Where(c => c.WaitingOn == a && c.Status == "wait"))
        {
            c.Status = outcome == "fail" ? "fault" : "cancel";
        }
    }

    // I6: a caller's token ends only its own wait; the last cancellable waiter to leave cancels the shared work.
    private void CancelCaller(int pick)
    {
        var k = Key();
        var waiting = _callers.Where(c => c.Key == _currentKey && c.Cancellable && c.Status == "wait").ToList();
        if (waiting.Count == 0)
        {
            return;
        }

        var caller = waiting[pick % waiting.Count];
        caller.Status = "cancel";
        var a = caller.WaitingOn!;
        a.CancellableWaiters--;
        Reach("caller cancelled its own wait");
        if (a.CancellableWaiters == 0 && !a.Pinned)
        {
            Reach(observesCancellation ? "last waiter left: work cancelled" : "last waiter left: work ignores cancellation");
            a.Abandoned = true;
            if (observesCancellation)
            {
                Fail(k, a, "cancel");
            }
        }
    }

    // I3: everything is forgotten, a new generation opens; work in flight still completes for its own waiters.
    private void Invalidate() => Invalidate(Key());

    private void Invalidate(KeyModel k)
    {
        Reach(k.Pending is null ? "invalidated" : "invalidated with an acquisition in flight");
        k.Generation++;
        k.ClearValue();
        k.Retired = null;
        k.Pending = null;
        k.Invalidations++;
    }

    // I6: Dispose forgets the state (new generation, not counted as an invalidation) and cancels the work in flight;
    // later gets fail with ObjectDisposedException.
    private void Dispose()
    {
        var k = Key();
        if (k.Disposed)
        {
            return;
        }

        k.Disposed = true;
        k.Generation++;
        k.ClearValue();
        k.Retired = null;
        var pending = k.Pending;
        k.Pending = null;
        if (pending is not null)
        {
            Reach("disposed with an acquisition in flight");
            pending.Abandoned = true;
            if (observesCancellation)
            {
                Fail(k, pending, "cancel");
            }
        }
    }

    // I4: only the value that was rejected is retired; an acquisition in flight stays.
    private void Reject(bool current)
    {
        var k = Key();
        var target = current ? k.Value : k.Retired ?? "none";
        if (k.Value is not null && k.Value == target)
        {
            k.Retired = k.Value;
            k.ClearValue();
            k.Invalidations++;
            _lastResult = "true";
            Reach(k.Pending is null ? "rejected token retired" : "rejected token retired, refresh in flight kept");
        }
        else
        {
            Reach("stale rejection ignored");
            _lastResult = "false";
        }
    }

    // I7: the timer of each key fires once the clock passes its deadline (FakeTimeProvider runs it at the new time).
    private void Advance(AdvanceKind kind)
    {
        _keys.TryGetValue(_currentKey, out var current);
        _now = Step.Target(kind, _now, current?.RefreshAt, current?.UsableUntil, current?.ExpiresAt);
        foreach (var k in _keys.Values)
        {
            if (k.Value is null || k.UsableUntil is not { } until)
            {
                continue;
            }

            var deadline = k.Pending is null && k.Fresh && k.RefreshAt is { } r && r < until ? r : until;
            if (deadline > _now)
            {
                continue;
            }

            if (_now >= until)
            {
                Reach(k.Pending is null ? "expired: retired by the timer" : "expired while refreshing");
                k.Retired = k.Value;
                k.ClearValue();
            }
            else if (k.Fresh && k.Pending is null && k.RefreshAt <= _now)
            {
                Reach("refresh due: fast path off");
                k.Fresh = false; // refresh due: the next caller starts it (an idle client causes no traffic)
            }
        }
    }

    private Observation Observe(Step step) => new(
        step.ToString(),
        Observation.Time(_now),
        _currentKey,
        _lastResult,
        string.Join(" | ", _keys.Values.Select(k => k.Describe())),
        string.Join(" ", _callers.Select(c => c.Describe())));

    private sealed class KeyModel(string key)
    {
        public string Key { get; } = key;
        public long Generation { get; set; }
        public string? Value { get; set; }
        public DateTimeOffset? ExpiresAt { get; set; }
        public bool Fresh { get; set; }
        public long ValueGeneration { get; set; }
        public DateTimeOffset? UsableUntil { get; set; }
        public DateTimeOffset? RefreshAt { get; set; }
        public string? Retired { get; set; }
        public AcquisitionModel? Pending { get; set; }
        public List<AcquisitionModel> Acquisitions { get; } = [];
        public long Started { get; set; }
        public long Coalesced { get; set; }
        public long Published { get; set; }
        public long Discarded { get; set; }
        public long Failed { get; set; }
        public long Invalidations { get; set; }

        public bool Disposed { get; set; }
        public bool InvalidateOnNextStart { get; set; }

        public string TokenName(int number) => $"{Key}-{number}";

        public void ClearValue()
        {
            Value = null;
            ExpiresAt = null;
            Fresh = false;
            UsableUntil = null;
            RefreshAt = null;
        }

        public string Describe() => Observation.DescribeKey(
            Key, Generation, Value, Fresh, Value is null ? null : ValueGeneration, UsableUntil, RefreshAt, Retired,
            Pending is null ? null : TokenName(Pending.Number),
            new AuthCoordinatorStatistics(Started, Coalesced, Published, Discarded, Failed, Invalidations),
            Acquisitions.Select(a => Observation.DescribeAcquisition(a.Number, a.Generation, a.Previous, a.Background, a.Status)));
    }

    private sealed class AcquisitionModel(int number, long generation, string? previous, bool background, DateTimeOffset startedAt)
    {
        public int Number { get; } = number;
        public long Generation { get; } = generation;
        public string? Previous { get; } = previous;
        public bool Background { get; } = background;
        public DateTimeOffset StartedAt { get; } = startedAt;
        public bool Pinned { get; set; }
        public int CancellableWaiters { get; set; }
        public bool Abandoned { get; set; }
        public string Status { get; set; } = "open";
    }

    private sealed class CallerModel(int id, string key, bool cancellable)
    {
        public int Id { get; } = id;
        public string Key { get; } = key;
        public bool Cancellable { get; } = cancellable;
        public bool FromCache { get; private set; }
        public AcquisitionModel? WaitingOn { get; set; }
        public string Status { get; set; } = "wait";

        public void Serve(string token)
        {
            FromCache = true;
            Status = $"ok:{token}";
        }

        public string Describe() => Observation.DescribeCaller(Id, Key, FromCache, Status);
    }
}

/// <summary>What one step left behind, in a form both the real system and the model can state exactly.</summary>
internal sealed record Observation(string Step, string Now, string CurrentKey, string? Result, string Keys, string Callers)
{
    public static string Time(DateTimeOffset t) => (t - State.Step.Origin).ToString("c", CultureInfo.InvariantCulture);

    public static string DescribeKey(
        string key, long generation, string? value, bool fresh, long? valueGeneration, DateTimeOffset? usableUntil, DateTimeOffset? refreshAt,
        string? retired, string? pending, AuthCoordinatorStatistics stats, IEnumerable<string> acquisitions) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{key}: gen={generation} value={value ?? "-"}{(value is null ? "" : fresh ? "(fresh)" : "(refresh due)")}{(valueGeneration is { } vg ? $"@{vg}" : "")} " +
            $"until={(usableUntil is { } u ? Time(u) : "-")} refresh={(refreshAt is { } r ? Time(r) : "-")} retired={retired ?? "-"} pending={pending ?? "-"} " +
            $"started={stats.AcquisitionsStarted} coalesced={stats.CallersCoalesced} published={stats.Published} discarded={stats.Discarded} " +
            $"failed={stats.Failed} invalidations={stats.Invalidations} acquisitions=[{string.Join(", ", acquisitions)}]");

    public static string DescribeAcquisition(int number, long generation, string? previous, bool background, string status) =>
        string.Create(CultureInfo.InvariantCulture, $"#{number} gen={generation} prev={previous ?? "-"} {(background ? "bg" : "fg")} {status}");

    public static string DescribeCaller(int id, string key, bool fromCache, string status) =>
        string.Create(CultureInfo.InvariantCulture, $"c{id}@{key}{(fromCache ? "*" : "")}={status}");

    public override string ToString() =>
        $"{Step,-40} now={Now} key={CurrentKey}{(Result is null ? "" : $" result={Result}")}\n      {Keys}\n      callers: {Callers}";
}
