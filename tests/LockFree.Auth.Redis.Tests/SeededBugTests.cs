using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// Seeded bugs the suite must catch (spec/redis.md): a store that forgets the version fence, and one that grants a
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

    /// <summary>Bug: publishes over whatever version is current (a compare-and-set without the compare).</summary>
    private sealed class FenceIgnoringStore(ISharedTokenStore inner) : DelegatingStore(inner)
    {
        public override async ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken)
        {
            var current = (await Inner.ReadAsync(key, cancellationToken))?.Version ?? 0;
            return await Inner.PublishAsync(key, SharedLease.Granted(current, lease.Holder!), value, cancellationToken);
        }
    }

    /// <summary>Bug: a lease is granted whenever the version matches, whoever holds it.</summary>
    private sealed class EveryoneGetsTheLeaseStore(ISharedTokenStore inner) : DelegatingStore(inner)
    {
        public override async ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
        {
            var lease = await Inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);
            return lease.Status == SharedLeaseStatus.Held ? SharedLease.Granted(expectedVersion, holder) : lease;
        }
    }

    private abstract class DelegatingStore(ISharedTokenStore inner) : ISharedTokenStore
    {
        protected ISharedTokenStore Inner => inner;

        public ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken) => inner.ReadAsync(key, cancellationToken);

        public virtual ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken) =>
            inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);

        public virtual ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken) =>
            inner.PublishAsync(key, lease, value, cancellationToken);

        public ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken) => inner.ReleaseLeaseAsync(key, lease, cancellationToken);

        public ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken) => inner.InvalidateIfAsync(key, fingerprint, cancellationToken);

        public ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken) =>
            inner.WaitForChangeAsync(key, knownVersion, bound, cancellationToken);
    }
}
