using LockFree.Auth.Testing.Sharing;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// Seeded bugs the suite must catch (spec/distributed.md): a store that forgets the version fence, and one that grants a
/// lease another holder still has. Each runs the very check the correct stores pass, and must see it fail.
/// </summary>
public sealed class SeededBugTests
{
    [Fact]
    public async Task FenceIgnored_TheStaleHolderCheck_ReportsTheOverwrite()
    {
        var time = new FakeTimeProvider();
        var store = new FenceIgnoringStore(new InMemorySharedTokenStore(time));
        var violation = await SharedTokenStoreContract.StaleHolderViolationAsync(store, () => { time.Advance(TimeSpan.FromMinutes(2)); return Task.CompletedTask; });
        Assert.NotNull(violation);
        Assert.Contains("overwrote the newer version", violation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LeaseGrantedToEveryone_TwoReplicasBothExchange()
    {
        // With the correct store the second replica waits (LeaseHeldByAnotherReplica_WaitsForItsNotification_ThenAdopts
        // in LockFree.Auth.Tests); with this bug both replicas spend the same refresh token.
        var tokens = new RotatingTokenServer(TimeProvider.System, TimeSpan.FromHours(1))
        {
            Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously),
        };
        var store = new EveryoneGetsTheLeaseStore(new InMemorySharedTokenStore());
        await using var a = Replica.InMemory(store, tokens);
        await using var b = Replica.InMemory(store, tokens);
        var first = a.Coordinator.GetAsync();
        var second = b.Coordinator.GetAsync();
        await EventuallyAsync(() => tokens.Exchanges == 2);
        tokens.Gate.SetResult();
        await Task.WhenAll(first, second).Within();
        Assert.Equal(2, tokens.Exchanges);
    }

    private static async Task EventuallyAsync(Func<bool> condition)
    {
        var limit = DateTime.UtcNow + Bounded.Default;
        while (!condition())
        {
            if (DateTime.UtcNow > limit)
            {
                throw new HangException("The seeded bug was not observed within " + Bounded.Default);
            }

            await Task.Delay(5);
        }
    }
}
