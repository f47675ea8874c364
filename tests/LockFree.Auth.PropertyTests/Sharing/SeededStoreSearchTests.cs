using LockFree.Auth.PropertyTests.Support;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.PropertyTests.Sharing;

/// <summary>
/// How fast random search finds the two seeded bugs of <c>tests/LockFree.Auth.Redis.Tests/SeededBugTests.cs</c>
/// (spec/redis.md, "Seeded bugs: iterations to find"): the same two faults — a publication that ignores the version
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
        Search("lease-to-everyone store", () => new LeaseToEveryoneStore(NewStore()));

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

    /// <summary>Bug: publishes over whatever version is current (a compare-and-set without the compare).</summary>
    private sealed class FenceIgnoringStore(ISharedTokenStore inner) : Delegating(inner)
    {
        public override async ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken)
        {
            var current = (await Inner.ReadAsync(key, cancellationToken))?.Version ?? 0;
            return await Inner.PublishAsync(key, SharedLease.Granted(current, lease.Holder!), value, cancellationToken);
        }
    }

    /// <summary>Bug: a lease is granted whenever the version matches, whoever holds it.</summary>
    private sealed class LeaseToEveryoneStore(ISharedTokenStore inner) : Delegating(inner)
    {
        public override async ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
        {
            var lease = await Inner.TryAcquireLeaseAsync(key, expectedVersion, holder, timeToLive, cancellationToken);
            return lease.Status == SharedLeaseStatus.Held ? SharedLease.Granted(expectedVersion, holder) : lease;
        }
    }

    private abstract class Delegating(ISharedTokenStore inner) : ISharedTokenStore
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
