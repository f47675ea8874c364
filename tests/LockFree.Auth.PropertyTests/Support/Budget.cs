using System.Globalization;

namespace LockFree.Auth.PropertyTests.Support;

/// <summary>
/// Iteration counts of the properties. The defaults fit CI on a shared 2-core machine (the whole project runs in well
/// under a minute, see spec/property-tests.md); <c>CsCheck_Iter</c> overrides every count for a soak run, and
/// <c>CsCheck_Seed</c> (read by CsCheck itself) replays a printed failing seed first.
/// </summary>
internal static class Budget
{
    /// <summary>Iterations of the snapshot properties (pure functions, microseconds each).</summary>
    public const int Snapshot = 500;

    /// <summary>Iterations of the model-based property (one coordinator pair and up to ~50 steps each).</summary>
    public const int ModelBased = 1200;

    /// <summary>Iterations of each linearizability property (~10 ms each: threads are started per iteration).</summary>
    public const int Parallel = 300;

    /// <summary>Iterations given to a property when it runs against a seeded bug (it must fail well before).</summary>
    public const int SeededBug = 300;

    /// <summary><paramref name="defaultCount"/>, or the value of <c>CsCheck_Iter</c> when it is set.</summary>
    public static long Iterations(int defaultCount) =>
        long.TryParse(Environment.GetEnvironmentVariable("CsCheck_Iter"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : defaultCount;
}
