using LockFree.Auth.CoyoteTests.Harness;
using LockFree.Auth.CoyoteTests.Sharing;
using Xunit.Abstractions;

namespace LockFree.Auth.CoyoteTests;

/// <summary>
/// Replicas sharing one token through the shared store (issue 13, spec/distributed.md R18–R22) under Coyote: strict, the real
/// <see cref="SharedTokenAcquisition"/> and <see cref="InMemorySharedTokenStore"/>, a controlled clock.
/// </summary>
[Collection(CoyoteSerial.Name)]
public sealed class SharingScenarioTests(ITestOutputHelper output)
{
    [Fact]
    public void Sharing_ColdStart_ThreeReplicasTwoCallersEach_OneExchange() => Run("Sharing." + nameof(SharingScenarios.ColdStart), SharingScenarios.ColdStart);

    [Fact]
    public void Sharing_RefreshRotation_TwoExpiries_OneRefreshPerVersionNoReuse() => Run("Sharing." + nameof(SharingScenarios.RefreshRotation), SharingScenarios.RefreshRotation);

    [Fact]
    public void Sharing_InvalidationRacesPublication_A401ForTRetiresOnlyT() => Run("Sharing." + nameof(SharingScenarios.InvalidationRacesPublication), SharingScenarios.InvalidationRacesPublication);

    [Fact]
    public void Sharing_HolderCrashes_AfterAnyStep_OthersFinishInTimeWithAtMostOneMoreExchange() => Run("Sharing." + nameof(SharingScenarios.HolderCrashes), SharingScenarios.HolderCrashes);

    [Fact]
    public void Sharing_StaleHolderReturns_TheFenceStopsIt() => Run("Sharing." + nameof(SharingScenarios.StaleHolderReturns), SharingScenarios.StaleHolderReturns);

    private void Run(string name, Func<Task> scenario)
    {
        var result = CoyoteRunner.AssertCorrect(name, scenario);
        output.WriteLine($"{name}: {result.IterationsRun} iterations, 0 bugs, {result.Elapsed.TotalSeconds:F1} s; strict: {CoyoteRunner.Strict}; uncontrolled: {result.UncontrolledInvocations.Count}");
        Console.WriteLine($"COYOTE-MEASURE {name} iterations={result.IterationsRun} seconds={result.Elapsed.TotalSeconds:F2} strict={CoyoteRunner.Strict} uncontrolled={result.UncontrolledInvocations.Count}");
    }
}
