using LockFree.Auth.CoyoteTests.Harness;
using LockFree.Auth.CoyoteTests.Providers;
using Xunit.Abstractions;

namespace LockFree.Auth.CoyoteTests;

/// <summary>The providers' race scenarios under Coyote: strict, over the in-memory back channel and the fake back ends of this rewritten assembly.</summary>
[Collection(CoyoteSerial.Name)]
public sealed class ProviderScenarioTests(ITestOutputHelper output)
{
    [Fact]
    public void ClientOAuth_ColdCallers_OneExchangeSameToken() => Run("ClientOAuth." + nameof(ClientOAuthScenarios.ColdCallers), ClientOAuthScenarios.ColdCallers);

    [Fact]
    public void ClientOAuth_InvalidateMidExchange_InvalidatedTokenNotReused() => Run("ClientOAuth." + nameof(ClientOAuthScenarios.InvalidateMidExchange), ClientOAuthScenarios.InvalidateMidExchange);

    [Fact]
    public void ClientOAuth_ConditionalInvalidationStorm_OneRefreshNoInvalidGrant() => Run("ClientOAuth." + nameof(ClientOAuthScenarios.ConditionalInvalidationStorm), ClientOAuthScenarios.ConditionalInvalidationStorm);

    [Fact]
    public void ClientOAuth_FirstCallerCancelled_SecondSucceeds() => Run("ClientOAuth." + nameof(ClientOAuthScenarios.FirstCallerCancelled), ClientOAuthScenarios.FirstCallerCancelled);

    [Fact]
    public void ClientOAuth_FreshRejectionStorm_CountedOnceOneExchangeThenBackOff() => Run("ClientOAuth." + nameof(ClientOAuthScenarios.FreshRejectionStorm), ClientOAuthScenarios.FreshRejectionStorm);

    [Fact]
    public void CrossApp_ColdCallers_OneExchangeSameToken() => Run("CrossApp." + nameof(CrossAppScenarios.ColdCallers), CrossAppScenarios.ColdCallers);

    [Fact]
    public void CrossApp_InvalidateMidExchange_InvalidatedTokenNotServed() => Run("CrossApp." + nameof(CrossAppScenarios.InvalidateMidExchange), CrossAppScenarios.InvalidateMidExchange);

    [Fact]
    public void CrossApp_ConditionalInvalidationStorm_OneNewExchange() => Run("CrossApp." + nameof(CrossAppScenarios.ConditionalInvalidationStorm), CrossAppScenarios.ConditionalInvalidationStorm);

    [Fact]
    public void CrossApp_FirstCallerCancelled_SecondGetsToken() => Run("CrossApp." + nameof(CrossAppScenarios.FirstCallerCancelled), CrossAppScenarios.FirstCallerCancelled);

    [Fact]
    public void CrossApp_HandlerColdRequests_OneExchangeSameToken() => Run("CrossApp." + nameof(CrossAppScenarios.HandlerColdRequests), CrossAppScenarios.HandlerColdRequests);

    [Fact]
    public void CrossApp_IssuerPinRace_PinnedToOneIssuerOtherRefused() => Run("CrossApp." + nameof(CrossAppScenarios.IssuerPinRace), CrossAppScenarios.IssuerPinRace);

    private void Run(string name, Func<Task> scenario)
    {
        var result = CoyoteRunner.AssertCorrect(name, scenario);
        output.WriteLine($"{name}: {result.IterationsRun} iterations, 0 bugs, {result.Elapsed.TotalSeconds:F1} s; strict: {CoyoteRunner.Strict}; uncontrolled: {result.UncontrolledInvocations.Count}");
        Console.WriteLine($"COYOTE-MEASURE {name} iterations={result.IterationsRun} seconds={result.Elapsed.TotalSeconds:F2} strict={CoyoteRunner.Strict} uncontrolled={result.UncontrolledInvocations.Count}");
    }
}
