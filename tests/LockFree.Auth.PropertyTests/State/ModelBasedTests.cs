using LockFree.Auth.PropertyTests.Support;

namespace LockFree.Auth.PropertyTests.State;

/// <summary>
/// Model-based property: generated operation sequences run on the real coordinators (map of two keys,
/// FakeTimeProvider, scripted acquisitions) and on <see cref="CoordinatorModel"/>; after every step both must state
/// the same observation (I1–I8 as the model states them, see spec/property-tests.md).
/// </summary>
public sealed class ModelBasedTests
{
    internal static readonly Gen<Step> GenStep = Gen.Frequency(
        (8, Gen.Enum<TokenKind>().Select(k => (Step)new Step.Get(k))),
        (5, Gen.Select(Gen.Int[0, 7], Gen.Int[0, Step.Lifetimes.Length - 1], (p, l) => (Step)new Step.Complete(p, l))),
        (2, Gen.Int[0, 7].Select(p => (Step)new Step.Fail(p))),
        (1, Gen.Int[0, 7].Select(p => (Step)new Step.CancelWork(p))),
        (3, Gen.Int[0, 7].Select(p => (Step)new Step.CancelCaller(p))),
        (2, Gen.Const<Step>(new Step.Invalidate())),
        (2, Gen.Bool.Select(c => (Step)new Step.Reject(c))),
        (5, Gen.Enum<AdvanceKind>().Select(k => (Step)new Step.Advance(k))),
        (2, Gen.Const<Step>(new Step.SwitchKey())));

    private static readonly GenOperation<CoordinatorSystem, CoordinatorModel> Operation =
        GenOperation.Create<CoordinatorSystem, CoordinatorModel, Step>(GenStep, s => s.ToString(), (actual, s) => actual.Apply(s), (model, s) => model.Apply(s));

    [Fact]
    public void Coordinator_GeneratedOperationSequences_MatchSequentialModelAfterEveryStep()
    {
        Run(cell: null, Budget.Iterations(Budget.ModelBased));
    }

    /// <summary>Runs the property; <paramref name="cell"/> swaps in a seeded-bug cell.</summary>
    internal static void Run(Func<AuthCell<AuthSnapshot<TokenContainer>>>? cell, long iterations) =>
        Gen.Bool
            .Select(observes => (new CoordinatorSystem(observes, cell), new CoordinatorModel(observes)))
            .SampleModelBased(
                [Operation],
                equal: Equal,
                iter: iterations,
                printActual: actual => $"\n  {actual.Divergence}{Print(actual.Trace)}",
                printModel: model => Print(model.Trace));

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
