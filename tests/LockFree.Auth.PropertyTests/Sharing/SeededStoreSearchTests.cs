using LockFree.Auth.Testing.Sharing;
using LockFree.Auth.PropertyTests.Support;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.PropertyTests.Sharing;

/// <summary>
/// How fast random search finds the two seeded bugs of <c>tests/LockFree.Auth.Redis.Tests/SeededBugTests.cs</c>
/// (spec/distributed.md, "Seeded bugs: iterations to find"): the same two faults — a publication that ignores the version
/// fence, a lease granted while another holder has it — wrapped around <see cref="InMemorySharedTokenStore"/> and run
/// through the linearizability check of <see cref="SharedStoreLinearizabilityTests"/>, one iteration per attempt with a
/// fresh seed, until CsCheck reports a history with no sequential explanation.
/// </summary>
public sealed class SeededStoreSearchTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void SeededBug_FenceIgnoringStore_IsNotLinearizable_FoundWithinTheBudget() =>
        Search("fence-ignoring store", () => new FenceIgnoringStore(NewStore()));

    [Fact]
    public void SeededBug_LeaseToEveryoneStore_IsNotLinearizable_FoundWithinTheBudget() =>
        Search("lease-to-everyone store", () => new EveryoneGetsTheLeaseStore(NewStore()));

    private static InMemorySharedTokenStore NewStore() => new(new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));

    private void Search(string name, Func<ISharedTokenStore> store)
    {
        var attempts = 0;
        var found = false;
        while (!found && attempts < Budget.SeededBug)
        {
            attempts++;
            try
            {
                SharedStoreLinearizabilityTests.Check(store, iterations: 1);
            }
            catch (Exception exception) when (exception.GetType().Name == "CsCheckException")
            {
                found = true;
            }
        }

        output.WriteLine($"{name}: not linearizable, found after {attempts} iteration(s)");
        Assert.True(found, $"the seeded bug ({name}) was not found within {Budget.SeededBug} iterations");
    }
}
