using LockFree.Auth.PropertyTests.State;
using LockFree.Auth.PropertyTests.Support;

namespace LockFree.Auth.PropertyTests.SeededBugs;

/// <summary>
/// Every seeded bug must be caught by the properties; the control (the product's cell plugged in through the same
/// seam) must pass. A caught bug shows as a <see cref="CsCheckException"/> that names the seed.
/// </summary>
public sealed class SeededBugTests
{
    [Fact]
    public void ModelBased_ProductCellThroughTheSeam_Passes()
    {
        ModelBasedTests.Run(SeededCells.Correct, Budget.Iterations(Budget.SeededBug));
    }

    [Fact]
    public void ModelBased_LostInvalidation_IsCaught()
    {
        var failure = Assert.Throws<CsCheckException>(() => ModelBasedTests.Run(SeededCells.LostInvalidation, Budget.Iterations(Budget.SeededBug)));
        Assert.Contains("CsCheck_Seed=", failure.Message);
        Assert.Contains("first divergence at step", failure.Message); // a model mismatch, not a crash
    }
}
