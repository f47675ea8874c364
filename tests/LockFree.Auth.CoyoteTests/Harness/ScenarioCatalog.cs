using LockFree.Auth.CoyoteTests.Providers;
using LockFree.Auth.CoyoteTests.Scenarios;
using LockFree.Auth.CoyoteTests.Sharing;

namespace LockFree.Auth.CoyoteTests.Harness;

/// <summary>
/// Every Coyote scenario of the suite, by the name its test explores it under (core: <c>ColdStart</c>; providers:
/// <c>ClientOAuth.ColdCallers</c>; replicas sharing a token: <c>Sharing.ColdStart</c>). The exploration run goes through them round-robin; <c>ScenarioCatalogTests</c> fails
/// when a scenario test exists without an entry here (or the other way round).
/// </summary>
internal static class ScenarioCatalog
{
    public static readonly IReadOnlyList<(string Name, Func<Task> Scenario)> All =
    [
        ("ColdStart", CoordinatorScenarios.ColdStart),
        ("ExpiryWhileCallersRace", CoordinatorScenarios.ExpiryWhileCallersRace),
        ("InvalidateDuringAcquisition", CoordinatorScenarios.InvalidateDuringAcquisition),
        ("ConditionalInvalidationStorm", CoordinatorScenarios.ConditionalInvalidationStorm),
        ("FailureReachesAllWaiters", CoordinatorScenarios.FailureReachesAllWaiters),
        ("WaiterCancelled", CoordinatorScenarios.WaiterCancelled),
        ("AllWaitersLeave", CoordinatorScenarios.AllWaitersLeave),
        ("FirstCallerCancelled", CoordinatorScenarios.FirstCallerCancelled),
        ("RefreshAheadRacesExpiry", CoordinatorScenarios.RefreshAheadRacesExpiry),
        ("TwoKeysInParallel", CoordinatorScenarios.TwoKeysInParallel),
        ("ReentrantInvalidate", CoordinatorScenarios.ReentrantInvalidate),
        ("MapInvalidateAllDuringPublication", CoordinatorScenarios.MapInvalidateAllDuringPublication),
        ("ClientOAuth.ColdCallers", ClientOAuthScenarios.ColdCallers),
        ("ClientOAuth.InvalidateMidExchange", ClientOAuthScenarios.InvalidateMidExchange),
        ("ClientOAuth.ConditionalInvalidationStorm", ClientOAuthScenarios.ConditionalInvalidationStorm),
        ("ClientOAuth.FirstCallerCancelled", ClientOAuthScenarios.FirstCallerCancelled),
        ("ClientOAuth.FreshRejectionStorm", ClientOAuthScenarios.FreshRejectionStorm),
        ("CrossApp.ColdCallers", CrossAppScenarios.ColdCallers),
        ("CrossApp.InvalidateMidExchange", CrossAppScenarios.InvalidateMidExchange),
        ("CrossApp.ConditionalInvalidationStorm", CrossAppScenarios.ConditionalInvalidationStorm),
        ("CrossApp.FirstCallerCancelled", CrossAppScenarios.FirstCallerCancelled),
        ("CrossApp.HandlerColdRequests", CrossAppScenarios.HandlerColdRequests),
        ("CrossApp.IssuerPinRace", CrossAppScenarios.IssuerPinRace),
        ("Sharing.ColdStart", SharingScenarios.ColdStart),
        ("Sharing.RefreshRotation", SharingScenarios.RefreshRotation),
        ("Sharing.InvalidationRacesPublication", SharingScenarios.InvalidationRacesPublication),
        ("Sharing.HolderCrashes", SharingScenarios.HolderCrashes),
        ("Sharing.StaleHolderReturns", SharingScenarios.StaleHolderReturns),
    ];
}
