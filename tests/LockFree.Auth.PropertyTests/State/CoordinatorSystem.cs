using LockFree.Auth.PropertyTests.Support;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.PropertyTests.State;

/// <summary>
/// The real system under the model-based property: an <see cref="AuthCoordinatorMap{TKey,T}"/> of real
/// <see cref="AuthCoordinator{T}"/>s over a <see cref="FakeTimeProvider"/>, one <see cref="ScriptedAcquirer"/> per key.
/// Every step is driven on the calling thread and has fully taken effect when it returns (gates and cancellation
/// run their continuations synchronously; FakeTimeProvider fires due timers inside <c>Advance</c>).
/// </summary>
internal sealed class CoordinatorSystem
{
    private readonly FakeTimeProvider _time = new(Step.Origin);
    private readonly Dictionary<string, ScriptedAcquirer> _acquirers;
    private readonly AuthCoordinatorMap<string, TokenContainer> _map;
    private readonly List<Caller> _callers = [];
    private string _currentKey = Step.Keys[0];
    private string? _lastResult;

    /// <param name="observesCancellation">Whether the fake work stops when the coordinator cancels its token.</param>
    /// <param name="cell">For seeded bugs: makes the cell each coordinator is built on; null: the product's cell.</param>
    public CoordinatorSystem(bool observesCancellation, Func<AuthCell<AuthSnapshot<TokenContainer>>>? cell = null)
    {
        _acquirers = Step.Keys.ToDictionary(k => k, k => new ScriptedAcquirer(k, _time, observesCancellation), StringComparer.Ordinal);
        _map = new AuthCoordinatorMap<string, TokenContainer>(key => cell is null
            ? _acquirers[key].CreateCoordinator(Step.Options())
            : _acquirers[key].CreateCoordinator(Step.Options(), cell()));
    }

    public List<Observation> Trace { get; } = [];

    /// <summary>Set by the property's equality when this trace first differs from the model's (printed on failure).</summary>
    public string? Divergence { get; set; }

    public void Apply(Step step) => NoSynchronizationContext.Run(s => ApplyCore(s), step);

    private void ApplyCore(Step step)
    {
        _lastResult = null;
        switch (step)
        {
            case Step.Get g: Get(g.Token); break;
            case Step.Complete c: Pick(c.Pick)?.Complete(Step.Lifetimes[c.Lifetime]); break;
            case Step.Fail f: Pick(f.Pick)?.Fail(); break;
            case Step.CancelWork w: Pick(w.Pick)?.CancelWork(); break;
            case Step.CancelCaller c: CancelCaller(c.Pick); break;
            case Step.Invalidate: _map.For(_currentKey).Invalidate(); break;
            case Step.Reject r: Reject(r.Current); break;
            case Step.Advance a: Advance(a.Kind); break;
            case Step.Dispose: _map.For(_currentKey).Dispose(); break;
            case Step.InvalidateFromInside: _acquirers[_currentKey].InvalidateOnNextStart = _map.For(_currentKey); break;
            case Step.SwitchKey: _currentKey = _currentKey == Step.Keys[0] ? Step.Keys[1] : Step.Keys[0]; break;
        }

        // I-S1..I-S5 on every snapshot the system is left in.
        foreach (var (key, coordinator) in _map.Entries)
        {
            if (coordinator.Current.FindInvariantViolation() is { } violation)
            {
                throw new InvalidOperationException($"after {step}, key {key}: {violation} ({coordinator.Current})");
            }
        }

        Trace.Add(Observe(step));
    }

    private void Get(TokenKind kind)
    {
        var coordinator = _map.For(_currentKey);
        var before = coordinator.Current;
        var cts = kind == TokenKind.Cancellable ? new CancellationTokenSource() : null;
        var token = kind switch
        {
            TokenKind.Cancellable => cts!.Token,
            TokenKind.PreCancelled => new CancellationToken(canceled: true),
            _ => CancellationToken.None,
        };
        var task = coordinator.GetAsync(token);

        // I1: a served value is the snapshot's own completed task, not a new one.
        _callers.Add(new Caller(_callers.Count + 1, _currentKey, task, cts, FromCache: before.Cached is not null && ReferenceEquals(task, before.Cached)));
    }

    private ScriptedAcquirer.Gate? Pick(int pick)
    {
        _ = _map.For(_currentKey);
        var open = _acquirers[_currentKey].Open;
        return open.Count == 0 ? null : open[pick % open.Count];
    }

    private void CancelCaller(int pick)
    {
        _ = _map.For(_currentKey);
        var waiting = _callers.Where(c => c.Key == _currentKey && c.Cts is { IsCancellationRequested: false } && !c.Task.IsCompleted).ToList();
        if (waiting.Count != 0)
        {
            waiting[pick % waiting.Count].Cts!.Cancel();
        }
    }

    private void Reject(bool current)
    {
        var coordinator = _map.For(_currentKey);
        var snapshot = coordinator.Current;
        var target = current ? snapshot.Value?.AccessToken : snapshot.Retired?.AccessToken ?? "none";
        _lastResult = coordinator.Invalidate(static (cached, rejected) => cached.AccessToken == rejected, target) ? "true" : "false";
    }

    private void Advance(AdvanceKind kind)
    {
        var current = _map.Entries.FirstOrDefault(e => e.Key == _currentKey).Value?.Current;
        var target = Step.Target(kind, _time.GetUtcNow(), current?.RefreshAt, current?.UsableUntil, current?.Value?.ExpiresAt);
        _time.Advance(target - _time.GetUtcNow());
    }

    private Observation Observe(Step step) => new(
        step.ToString(),
        Observation.Time(_time.GetUtcNow()),
        _currentKey,
        _lastResult,
        string.Join(" | ", _map.Entries.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => DescribeKey(e.Key, e.Value))),
        string.Join(" ", _callers.Select(c => Observation.DescribeCaller(c.Id, c.Key, c.FromCache, Status(c.Task)))));

    private string DescribeKey(string key, AuthCoordinator<TokenContainer> coordinator)
    {
        var s = coordinator.Current;
        var gates = _acquirers[key].Gates;
        var pending = s.Pending is { } p
            ? gates.FirstOrDefault(g => g.Context.Generation == p.Generation) is { } gate ? _acquirers[key].TokenName(gate.Number) : $"(no gate for generation {p.Generation})"
            : null;
        return Observation.DescribeKey(
            key, s.Generation, s.Value?.AccessToken, s.IsFresh, s.Value is null ? null : s.ValueGeneration, s.UsableUntil, s.RefreshAt,
            s.Retired?.AccessToken, pending, coordinator.Statistics,
            gates.Select(g => Observation.DescribeAcquisition(g.Number, g.Context.Generation, g.Context.Previous?.AccessToken, g.Context.IsBackgroundRefresh, GateStatus(g.Task))));
    }

    private static string GateStatus(Task task) => task.Status switch
    {
        TaskStatus.RanToCompletion => "ok",
        TaskStatus.Faulted => "fail",
        TaskStatus.Canceled => "cancel",
        _ => "open",
    };

    private static string Status(Task<TokenContainer> task) => task.Status switch
    {
        TaskStatus.RanToCompletion => $"ok:{task.Result.AccessToken}",
        TaskStatus.Faulted => "fault",
        TaskStatus.Canceled => "cancel",
        _ => "wait",
    };

    private sealed record Caller(int Id, string Key, Task<TokenContainer> Task, CancellationTokenSource? Cts, bool FromCache);
}
