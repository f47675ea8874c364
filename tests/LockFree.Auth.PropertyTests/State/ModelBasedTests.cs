using LockFree.Auth.PropertyTests.Support;
using Xunit.Abstractions;

namespace LockFree.Auth.PropertyTests.State;

/// <summary>
/// Model-based property: generated operation sequences run on the real coordinators (map of two keys,
/// FakeTimeProvider, scripted acquisitions) and on <see cref="CoordinatorModel"/>; after every step both must state
/// the same observation (I1–I8 as the model states them, see spec/property-tests.md).
/// </summary>
public sealed class ModelBasedTests
{
    // Weights chosen so that the rare situations (a rejection or an expiry while a background refresh is in flight,
    // joining a background refresh) are reached dozens of times per CI run; see the coverage assertion below.
    private static readonly Gen<TokenKind> GenToken = Gen.Frequency((5, TokenKind.None), (3, TokenKind.Cancellable), (1, TokenKind.PreCancelled));

    private static readonly Gen<AdvanceKind> GenAdvance = Gen.Frequency(
        (1, AdvanceKind.OneSecond), (1, AdvanceKind.FortyFiveSeconds), (1, AdvanceKind.TwentyMinutes),
        (1, AdvanceKind.JustBeforeRefreshAt), (2, AdvanceKind.AtRefreshAt), (3, AdvanceKind.BetweenRefreshAndUsableUntil),
        (1, AdvanceKind.JustBeforeUsableUntil), (1, AdvanceKind.AtUsableUntil), (1, AdvanceKind.PastExpiry));

    // Index into Step.Lifetimes: none, 0 s, 2 s, 10 s, 100 s, 10 min, 1 h.
    private static readonly Gen<int> GenLifetime = Gen.Frequency((2, 0), (2, 1), (1, 2), (1, 3), (2, 4), (2, 5), (2, 6));

    internal static readonly Gen<Step> GenStep = Gen.Frequency(
        (40, GenToken.Select(k => (Step)new Step.Get(k))),
        (20, Gen.Select(Gen.Int[0, 7], GenLifetime, (p, l) => (Step)new Step.Complete(p, l))),
        (8, Gen.Int[0, 7].Select(p => (Step)new Step.Fail(p))),
        (4, Gen.Int[0, 7].Select(p => (Step)new Step.CancelWork(p))),
        (8, Gen.Int[0, 7].Select(p => (Step)new Step.CancelCaller(p))),
        (4, Gen.Const<Step>(new Step.Invalidate())),
        (8, Gen.Frequency((3, true), (1, false)).Select(c => (Step)new Step.Reject(c))),
        (24, GenAdvance.Select(k => (Step)new Step.Advance(k))),
        (4, Gen.Const<Step>(new Step.SwitchKey())),
        (4, Gen.Const<Step>(new Step.InvalidateFromInside())),
        (1, Gen.Const<Step>(new Step.Dispose())));

    private static readonly GenOperation<CoordinatorSystem, CoordinatorModel> Operation =
        GenOperation.Create<CoordinatorSystem, CoordinatorModel, Step>(GenStep, s => s.ToString(), (actual, s) => actual.Apply(s), (model, s) => model.Apply(s));

    /// <summary>Every situation the model distinguishes; the property must reach each one in its CI budget.</summary>
    internal static readonly string[] Situations =
    [
        "served from cache", "served from cache while refreshing", "pre-cancelled caller, no usable value",
        "background refresh started on use", "joined an acquisition", "joined a background refresh",
        "abandoned acquisition removed by the next caller", "cold acquisition", "acquisition after a retired value",
        "published without expiry", "published with expiry", "already expired on arrival: not cached",
        "refresh result expired on arrival: previous value kept",
        "result discarded (invalidated meanwhile)", "acquisition failed", "acquisition cancelled",
        "background refresh failed: value kept, retried later", "caller cancelled its own wait",
        "last waiter left: work cancelled", "last waiter left: work ignores cancellation", "invalidated",
        "invalidated with an acquisition in flight", "rejected token retired", "rejected token retired, refresh in flight kept",
        "stale rejection ignored", "expired: retired by the timer", "expired while refreshing", "refresh due: fast path off",
        "second key used", "get after dispose", "disposed with an acquisition in flight",
        "re-entrant invalidate from an acquisition", "re-entrant invalidate from a background refresh",
    ];

    private readonly ITestOutputHelper _output;

    public ModelBasedTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Coordinator_GeneratedOperationSequences_MatchSequentialModelAfterEveryStep()
    {
        var iterations = Budget.Iterations(Budget.ModelBased);
        var coverage = Run(cell: null, iterations);

        // The property is only as good as what it reaches: every situation of the model, in the CI budget. (A smaller
        // CsCheck_Iter, as in a mutation run, checks the property without asking for the whole coverage.)
        _output.WriteLine(coverage.Describe());
        if (iterations < Budget.ModelBased)
        {
            return;
        }

        var missing = Situations.Where(s => !coverage.Reached.ContainsKey(s)).ToList();
        var unknown = coverage.Reached.Keys.Where(s => !Situations.Contains(s)).ToList();
        Assert.True(missing.Count == 0, $"not reached in the CI budget: {string.Join("; ", missing)}");
        Assert.True(unknown.Count == 0, $"reached but not listed: {string.Join("; ", unknown)}");
    }

    /// <summary>Runs the property; <paramref name="cell"/> swaps in a seeded-bug cell. Returns what the runs reached.</summary>
    internal static Coverage Run(Func<AuthCell<AuthSnapshot<TokenContainer>>>? cell, long iterations)
    {
        var coverage = new Coverage();
        Gen.Bool
            .Select(observes => (new CoordinatorSystem(observes, cell), new CoordinatorModel(observes, coverage)))
            .SampleModelBased(
                [Operation],
                equal: Equal,
                iter: iterations,
                printActual: actual => $"\n  {actual.Divergence}{Print(actual.Trace)}",
                printModel: model => Print(model.Trace));
        return coverage;
    }

    private static bool Equal(CoordinatorSystem actual, CoordinatorModel model)
    {
        var n = Math.Min(actual.Trace.Count, model.Trace.Count);
        for (var i = 0; i < n; i++)
        {
            if (actual.Trace[i] != model.Trace[i])
            {
                actual.Divergence = $"first divergence at step {i + 1}:\n    actual: {actual.Trace[i]}\n    model:  {model.Trace[i]}";
                return false;
            }
        }

        return actual.Trace.Count == model.Trace.Count;
    }

    private static string Print(List<Observation> trace) =>
        "\n" + string.Join("\n", trace.Select((o, i) => $"  {i + 1,2}. {o}"));
}
