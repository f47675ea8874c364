using LockFree.Auth.CoyoteTests.Harness;
using LockFree.Auth.CoyoteTests.Scenarios;
using Xunit.Abstractions;

namespace LockFree.Auth.CoyoteTests;

/// <summary>
/// Explores every scenario against the real core (COYOTE_ITERATIONS iterations each). Passes only with 0 bugs
/// (assertion failures, deadlocks, hangs, unhandled exceptions) and no unexpected uncontrolled invocation.
/// </summary>
[Collection(CoyoteSerial.Name)]
public sealed class CoordinatorScenarioTests(ITestOutputHelper output)
{
    [Fact]
    public void ColdStart_ThreeConcurrentCallers_OneAcquisitionSameInstance() => Run(nameof(CoordinatorScenarios.ColdStart), CoordinatorScenarios.ColdStart);

    [Fact]
    public void ExpiryWhileCallersRace_TimerFiresConcurrently_ExpiredTokenNeverServedAfterExpiry() => Run(nameof(CoordinatorScenarios.ExpiryWhileCallersRace), CoordinatorScenarios.ExpiryWhileCallersRace);

    [Fact]
    public void InvalidateDuringAcquisition_InvalidateWins_NothingStaleCached() => Run(nameof(CoordinatorScenarios.InvalidateDuringAcquisition), CoordinatorScenarios.InvalidateDuringAcquisition);

    [Fact]
    public void ConditionalInvalidationStorm_SameRejectedToken_OneNewAcquisition() => Run(nameof(CoordinatorScenarios.ConditionalInvalidationStorm), CoordinatorScenarios.ConditionalInvalidationStorm);

    [Fact]
    public void FailureReachesAllWaiters_AcquisitionFails_NothingCachedNextCallRetries() => Run(nameof(CoordinatorScenarios.FailureReachesAllWaiters), CoordinatorScenarios.FailureReachesAllWaiters);

    [Fact]
    public void WaiterCancelled_OtherWaiterStays_OtherGetsToken() => Run(nameof(CoordinatorScenarios.WaiterCancelled), CoordinatorScenarios.WaiterCancelled);

    [Fact]
    public void AllWaitersLeave_LateCallerArrives_LateCallerGetsTokenNothingCancelledCached() => Run(nameof(CoordinatorScenarios.AllWaitersLeave), CoordinatorScenarios.AllWaitersLeave);

    [Fact]
    public void FirstCallerCancelled_SecondCallerJoins_SecondGetsToken() => Run(nameof(CoordinatorScenarios.FirstCallerCancelled), CoordinatorScenarios.FirstCallerCancelled);

    [Fact]
    public void RefreshAheadRacesExpiry_CallersRace_OneRefreshNoExpiredToken() => Run(nameof(CoordinatorScenarios.RefreshAheadRacesExpiry), CoordinatorScenarios.RefreshAheadRacesExpiry);

    [Fact]
    public void TwoKeysInParallel_OneKeyHangs_OtherKeyCompletesOneAcquisitionEach() => Run(nameof(CoordinatorScenarios.TwoKeysInParallel), CoordinatorScenarios.TwoKeysInParallel);

    [Fact]
    public void ReentrantInvalidate_InsideAcquisition_NoDeadlockNotCached() => Run(nameof(CoordinatorScenarios.ReentrantInvalidate), CoordinatorScenarios.ReentrantInvalidate);

    [Fact]
    public void MapInvalidateAllDuringPublication_InvalidateAllWins_OldValueNeverServedAfterwards() => Run(nameof(CoordinatorScenarios.MapInvalidateAllDuringPublication), CoordinatorScenarios.MapInvalidateAllDuringPublication);

    private void Run(string name, Func<Task> scenario)
    {
        var result = CoyoteRunner.AssertCorrect(name, scenario);
        output.WriteLine($"{name}: {result.IterationsRun} iterations, 0 bugs, {result.Elapsed.TotalSeconds:F1} s; strict: {CoyoteRunner.Strict}; uncontrolled: {result.UncontrolledInvocations.Count}");
        Console.WriteLine($"COYOTE-MEASURE {name} iterations={result.IterationsRun} seconds={result.Elapsed.TotalSeconds:F2} strict={CoyoteRunner.Strict} uncontrolled={result.UncontrolledInvocations.Count}");
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CoyoteSerial
{
    public const string Name = "Coyote (serial)";
}
