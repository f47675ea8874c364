using System.Collections.Concurrent;
using LockFree.Auth.PropertyTests.Support;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.PropertyTests.Sharing;

/// <summary>
/// Linearizability of <see cref="InMemorySharedTokenStore"/> (issue 13; CsCheck <c>SampleParallel</c>): leases,
/// fenced publications, releases, conditional invalidations and reads of one key by two holders run concurrently on
/// the real store; CsCheck searches for a sequential order of the same operations on <see cref="Model"/> (the contract
/// of <see cref="ISharedTokenStore"/>, spec/distributed.md) that returns the same results and ends in the same record. The
/// clock stands still, so a lease never expires during a run. Its seeded-bug twin — the same contract with a
/// read-then-write instead of a compare-and-set — must fail.
/// </summary>
public sealed class SharedStoreLinearizabilityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Key = "k";
    private static readonly TimeSpan LeaseTtl = TimeSpan.FromMinutes(1);

    /// <summary>The store under test and what each operation returned (a multiset: the model's order may differ).</summary>
    internal sealed class Actual(ISharedTokenStore store)
    {
        private readonly ConcurrentQueue<string> _results = new();

        public void Lease(string holder, long expected)
        {
            var lease = store.TryAcquireLeaseAsync(Key, expected, holder, LeaseTtl, default).AsTask().ResultWithin();
            _results.Enqueue($"lease {holder}@{expected}: {lease.Status} {lease.Version}");
        }

        public void Publish(string holder, long fence)
        {
            var result = store.PublishAsync(Key, SharedLease.Granted(fence, holder), Value(holder, fence), default).AsTask().ResultWithin();
            _results.Enqueue($"publish {holder}@{fence}: {result.IsPublished} {result.Version}");
        }

        public void Release(string holder, long fence)
        {
            store.ReleaseLeaseAsync(Key, SharedLease.Granted(fence, holder), default).AsTask().WaitWithin();
            _results.Enqueue($"release {holder}@{fence}");
        }

        public void InvalidateIf(string fingerprint) =>
            _results.Enqueue($"invalidate {fingerprint}: {store.InvalidateIfAsync(Key, fingerprint, default).AsTask().ResultWithin()}");

        public void Read() => _results.Enqueue("read: " + Describe(store.ReadAsync(Key, default).AsTask().ResultWithin()));

        /// <summary>The record, and the lease as probed by a third holder (Held names who blocks; Granted/Stale: nobody).</summary>
        public string State()
        {
            var record = store.ReadAsync(Key, default).AsTask().ResultWithin();
            return $"record={Describe(record)} results=[{string.Join(", ", _results.Order(StringComparer.Ordinal))}]";
        }

        private static string Describe(SharedTokenRecord? record) =>
            record is null ? "none" : $"v{record.Version} {record.Value.Fingerprint}{(record.IsRetired ? " retired" : string.Empty)}";
    }

    /// <summary>The sequential specification of one key (spec/distributed.md, "Transitions"); leases never expire here.</summary>
    internal sealed class Model
    {
        private readonly List<string> _results = [];
        private long _version;
        private string? _fingerprint;
        private bool _retired;
        private (string Holder, long Fence)? _lease;

        public void Lease(string holder, long expected)
        {
            string result;
            if (_version != expected)
            {
                result = $"Stale {_version}";
            }
            else if (_lease is { } lease && lease.Holder != holder && lease.Fence == _version)
            {
                result = $"Held {_version}";
            }
            else
            {
                _lease = (holder, expected);
                result = $"Granted {expected}";
            }

            _results.Add($"lease {holder}@{expected}: {result}");
        }

        public void Publish(string holder, long fence)
        {
            if (_version != fence)
            {
                _results.Add($"publish {holder}@{fence}: False {_version}");
                return;
            }

            _version = fence + 1;
            _fingerprint = Fingerprint(holder, fence);
            _retired = false;
            if (_lease == (holder, fence))
            {
                _lease = null;
            }

            _results.Add($"publish {holder}@{fence}: True {_version}");
        }

        public void Release(string holder, long fence)
        {
            if (_lease == (holder, fence))
            {
                _lease = null;
            }

            _results.Add($"release {holder}@{fence}");
        }

        public void InvalidateIf(string fingerprint)
        {
            var retires = _version > 0 && !_retired && _fingerprint == fingerprint;
            _retired |= retires;
            _results.Add($"invalidate {fingerprint}: {retires}");
        }

        public void Read() => _results.Add("read: " + Describe());

        public string State() => $"record={Describe()} results=[{string.Join(", ", _results.Order(StringComparer.Ordinal))}]";

        private string Describe() => _version == 0 ? "none" : $"v{_version} {_fingerprint}{(_retired ? " retired" : string.Empty)}";
    }

    private static string Fingerprint(string holder, long fence) => $"{holder}{fence}";

    private static SharedTokenValue Value(string holder, long fence) => new(new byte[] { 1 }, Fingerprint(holder, fence), null);

    private static readonly GenOperation<Actual, Model>[] Operations =
    [
        .. from h in new[] { "A", "B" } from v in new long[] { 0, 1 } select Gen.Operation<Actual, Model>($"lease {h}@{v}", a => a.Lease(h, v), m => m.Lease(h, v)),
        .. from h in new[] { "A", "B" } from v in new long[] { 0, 1 } select Gen.Operation<Actual, Model>($"publish {h}@{v}", a => a.Publish(h, v), m => m.Publish(h, v)),
        .. from h in new[] { "A", "B" } select Gen.Operation<Actual, Model>($"release {h}@0", a => a.Release(h, 0), m => m.Release(h, 0)),
        .. from f in new[] { "A0", "B0", "A1" } select Gen.Operation<Actual, Model>($"invalidate {f}", a => a.InvalidateIf(f), m => m.InvalidateIf(f)),
        Gen.Operation<Actual, Model>("read", a => a.Read(), m => m.Read()),
    ];

    internal static void Check(Func<ISharedTokenStore> store, long iterations) =>
        Gen.Const(() => (new Actual(store()), new Model()))
            .SampleParallel(
                Operations,
                equal: (a, m) => a.State() == m.State(),
                maxSequentialOperations: 3,
                maxParallelOperations: 5,
                iter: iterations,
                printActual: a => a.State(),
                printModel: m => m.State());

    [Fact]
    public void InMemoryStore_ConcurrentLeasePublishReleaseInvalidate_Linearizable()
    {
        Check(() => new InMemorySharedTokenStore(new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))), Budget.Iterations(Budget.Parallel));
    }

    [Fact]
    public void SeededBug_ReadThenWriteStore_IsNotLinearizable_FoundWithinTheBudget()
    {
        // The twin: the same transitions with a read and a separate write instead of a compare-and-set. Two holders
        // publishing at one fence can then both succeed (a lost update). One iteration per attempt, fresh seeds.
        var attempts = 0;
        var found = false;
        while (!found && attempts < Budget.SeededBug)
        {
            attempts++;
            try
            {
                Check(() => new ReadThenWriteStore(), iterations: 1);
            }
            catch (Exception exception) when (exception.GetType().Name == "CsCheckException")
            {
                found = true;
            }
        }

        output.WriteLine($"read-then-write store: not linearizable, found after {attempts} iteration(s)");
        Assert.True(found, $"the seeded bug was not found within {Budget.SeededBug} iterations");
    }

    /// <summary>Bug: each transition reads the state, then writes it back unconditionally (no compare-and-set).</summary>
    private sealed class ReadThenWriteStore : ISharedTokenStore
    {
        private volatile State _state = new(0, null, false, null, 0);

        public ValueTask<SharedTokenRecord?> ReadAsync(string key, CancellationToken cancellationToken)
        {
            var s = _state;
            return ValueTask.FromResult(s.Version == 0 ? null : new SharedTokenRecord(s.Version, new SharedTokenValue(new byte[] { 1 }, s.Fingerprint!, null), s.Retired));
        }

        public ValueTask<SharedLease> TryAcquireLeaseAsync(string key, long expectedVersion, string holder, TimeSpan timeToLive, CancellationToken cancellationToken)
        {
            var s = _state;
            if (s.Version != expectedVersion)
            {
                return ValueTask.FromResult(SharedLease.Stale(s.Version));
            }

            if (s.LeaseHolder is { } other && other != holder && s.LeaseFence == s.Version)
            {
                return ValueTask.FromResult(SharedLease.Held(s.Version, timeToLive));
            }

            Thread.Yield(); // widens the window between the read and the write
            _state = s with { LeaseHolder = holder, LeaseFence = expectedVersion };
            return ValueTask.FromResult(SharedLease.Granted(expectedVersion, holder));
        }

        public ValueTask<SharedPublishResult> PublishAsync(string key, SharedLease lease, SharedTokenValue value, CancellationToken cancellationToken)
        {
            var s = _state;
            if (s.Version != lease.Version)
            {
                return ValueTask.FromResult(new SharedPublishResult(false, s.Version));
            }

            Thread.Yield();
            var owns = s.LeaseHolder == lease.Holder && s.LeaseFence == lease.Version;
            _state = new State(s.Version + 1, value.Fingerprint, false, owns ? null : s.LeaseHolder, owns ? 0 : s.LeaseFence);
            return ValueTask.FromResult(new SharedPublishResult(true, s.Version + 1));
        }

        public ValueTask ReleaseLeaseAsync(string key, SharedLease lease, CancellationToken cancellationToken)
        {
            var s = _state;
            if (s.LeaseHolder == lease.Holder && s.LeaseFence == lease.Version)
            {
                Thread.Yield();
                _state = s with { LeaseHolder = null, LeaseFence = 0 };
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask<bool> InvalidateIfAsync(string key, string fingerprint, CancellationToken cancellationToken)
        {
            var s = _state;
            if (s.Version == 0 || s.Retired || s.Fingerprint != fingerprint)
            {
                return ValueTask.FromResult(false);
            }

            Thread.Yield();
            _state = s with { Retired = true };
            return ValueTask.FromResult(true);
        }

        public ValueTask WaitForChangeAsync(string key, long knownVersion, TimeSpan bound, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        private sealed record State(long Version, string? Fingerprint, bool Retired, string? LeaseHolder, long LeaseFence);
    }
}
