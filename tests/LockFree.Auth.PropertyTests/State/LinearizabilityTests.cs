using System.Collections.Concurrent;
using LockFree.Auth.PropertyTests.Support;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.PropertyTests.State;

/// <summary>
/// Linearizability (CsCheck <c>SampleParallel</c>): operations run concurrently on a real coordinator, then CsCheck
/// searches for a sequential order of the same operations on <see cref="Model"/> that ends in an equal state. The
/// state compared includes the number of acquisitions started, so N concurrent cold gets must linearize to exactly
/// one acquisition (I2), and what every operation returned.
/// </summary>
public sealed class LinearizabilityTests
{
    /// <summary>
    /// The real coordinator. Its acquisition completes synchronously (inside the installer's <c>Start</c>), so no
    /// operation can block on work nobody will finish and a blocked joiner only waits for the installer's thread.
    /// Tokens are named after the generation (not the start order): two installers of different generations may call
    /// the delegate in either order, while generations follow the linearization order.
    /// </summary>
    internal sealed class Actual
    {
        private readonly ConcurrentQueue<string> _results = new();
        private int _started;

        public Actual(Func<AuthCell<AuthSnapshot<TokenContainer>>>? cell)
        {
            var time = new FakeTimeProvider(Step.Origin);
            Func<AcquisitionContext<TokenContainer>, CancellationToken, Task<TokenContainer>> acquire = (context, _) =>
            {
                Interlocked.Increment(ref _started);
                return Task.FromResult(new TokenContainer { AccessToken = $"t{context.Generation}", ObtainedAt = time.GetUtcNow() });
            };
            Coordinator = cell is null
                ? new AuthCoordinator<TokenContainer>(acquire, null, time, Step.Options())
                : new AuthCoordinator<TokenContainer>(acquire, null, time, Step.Options(), cell());
        }

        public AuthCoordinator<TokenContainer> Coordinator { get; }

        public void Get() => _results.Enqueue($"get:{Coordinator.GetAsync().ResultWithin().AccessToken}");

        public void Invalidate()
        {
            Coordinator.Invalidate();
            _results.Enqueue("invalidate");
        }

        public void Reject() => _results.Enqueue($"reject:{Coordinator.Invalidate(static (_, _) => true, 0)}");

        public string State()
        {
            var s = Coordinator.Current;
            return Describe(s.Generation, s.Value?.AccessToken, Volatile.Read(ref _started), Coordinator.Statistics.AcquisitionsStarted, _results);
        }
    }

    /// <summary>The sequential specification: a get of an empty cache opens a generation and acquires once.</summary>
    internal sealed class Model
    {
        private readonly List<string> _results = [];
        private long _generation;
        private string? _value;
        private int _started;

        public void Get()
        {
            if (_value is null)
            {
                _generation++;
                _started++;
                _value = $"t{_generation}";
            }

            _results.Add($"get:{_value}");
        }

        public void Invalidate()
        {
            _generation++;
            _value = null;
            _results.Add("invalidate");
        }

        public void Reject()
        {
            _results.Add($"reject:{_value is not null}");
            _value = null;
        }

        public string State() => Describe(_generation, _value, _started, _started, _results);
    }

    private static string Describe(long generation, string? value, int started, long counted, IEnumerable<string> results) =>
        $"generation={generation} value={value ?? "-"} acquisitions={started} counted={counted} results=[{string.Join(", ", results.Order(StringComparer.Ordinal))}]";

    private static readonly GenOperation<Actual, Model> Get = Gen.Operation<Actual, Model>("get", a => a.Get(), m => m.Get());
    private static readonly GenOperation<Actual, Model> Invalidate = Gen.Operation<Actual, Model>("invalidate", a => a.Invalidate(), m => m.Invalidate());
    private static readonly GenOperation<Actual, Model> Reject = Gen.Operation<Actual, Model>("reject", a => a.Reject(), m => m.Reject());

    [Fact]
    public void GetAsync_ConcurrentColdCallers_LinearizeToOneAcquisition()
    {
        ColdGets(cell: null, Budget.Iterations(Budget.Parallel));
    }

    [Fact]
    public void Coordinator_ConcurrentGetInvalidateReject_Linearizable()
    {
        Mixed(cell: null, Budget.Iterations(Budget.Parallel));
    }

    /// <summary>Only gets, from a cold cache: every linearization acquires exactly once and returns that token to all.</summary>
    internal static void ColdGets(Func<AuthCell<AuthSnapshot<TokenContainer>>>? cell, long iterations) =>
        Gen.Const(() => (new Actual(cell), new Model()))
            .SampleParallel(
                [Get],
                equal: (a, m) => a.State() == m.State(),
                maxSequentialOperations: 0,
                maxParallelOperations: 6,
                iter: iterations,
                printActual: a => a.State(),
                printModel: m => m.State());

    /// <summary>Gets, invalidations and rejections of the current token, after a random sequential prefix.</summary>
    internal static void Mixed(Func<AuthCell<AuthSnapshot<TokenContainer>>>? cell, long iterations) =>
        Gen.Const(() => (new Actual(cell), new Model()))
            .SampleParallel(
                [Get, Get, Invalidate, Reject],
                equal: (a, m) => a.State() == m.State(),
                maxSequentialOperations: 4,
                maxParallelOperations: 5,
                iter: iterations,
                printActual: a => a.State(),
                printModel: m => m.State());

    /// <summary>Two keys of one map, first use included: each key acquires once per generation, keys never share (I8).</summary>
    internal sealed class MapActual
    {
        private readonly ConcurrentDictionary<string, int> _started = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<string> _results = new();

        public MapActual()
        {
            var time = new FakeTimeProvider(Step.Origin);
            Map = new AuthCoordinatorMap<string, TokenContainer>(key => new AuthCoordinator<TokenContainer>(
                (context, _) =>
                {
                    _started.AddOrUpdate(key, 1, static (_, n) => n + 1);
                    return Task.FromResult(new TokenContainer { AccessToken = $"{key}-t{context.Generation}" });
                },
                null,
                time,
                Step.Options()));
        }

        public AuthCoordinatorMap<string, TokenContainer> Map { get; }

        public void Get(string key) => _results.Enqueue($"get:{Map.For(key).GetAsync().ResultWithin().AccessToken}");

        public void Invalidate(string key)
        {
            Map.For(key).Invalidate();
            _results.Enqueue($"invalidate:{key}");
        }

        public string State() => DescribeMap(
            Map.Entries.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (e.Key, e.Value.Current.Generation, e.Value.Current.Value?.AccessToken, _started.GetValueOrDefault(e.Key))),
            _results);
    }

    internal sealed class MapModel
    {
        private readonly SortedDictionary<string, (long Generation, string? Value, int Started)> _keys = new(StringComparer.Ordinal);
        private readonly List<string> _results = [];

        public void Get(string key)
        {
            var (generation, value, started) = _keys.GetValueOrDefault(key);
            if (value is null)
            {
                generation++;
                started++;
                value = $"{key}-t{generation}";
            }

            _keys[key] = (generation, value, started);
            _results.Add($"get:{value}");
        }

        public void Invalidate(string key)
        {
            var (generation, _, started) = _keys.GetValueOrDefault(key);
            _keys[key] = (generation + 1, null, started);
            _results.Add($"invalidate:{key}");
        }

        public string State() => DescribeMap(_keys.Select(k => (k.Key, k.Value.Generation, k.Value.Value, k.Value.Started)), _results);
    }

    private static string DescribeMap(IEnumerable<(string Key, long Generation, string? Value, int Started)> keys, IEnumerable<string> results) =>
        $"{string.Join(" ", keys.Select(k => $"{k.Key}:generation={k.Generation},value={k.Value ?? "-"},acquisitions={k.Started}"))} results=[{string.Join(", ", results.Order(StringComparer.Ordinal))}]";

    [Fact]
    public void Map_ConcurrentFirstUseGetsAndInvalidationsOnTwoKeys_Linearizable()
    {
        Gen.Const(() => (new MapActual(), new MapModel()))
            .SampleParallel(
                [
                    Gen.Operation<MapActual, MapModel>("get a", a => a.Get("a"), m => m.Get("a")),
                    Gen.Operation<MapActual, MapModel>("get b", a => a.Get("b"), m => m.Get("b")),
                    Gen.Operation<MapActual, MapModel>("invalidate a", a => a.Invalidate("a"), m => m.Invalidate("a")),
                ],
                equal: (a, m) => a.State() == m.State(),
                maxSequentialOperations: 2,
                maxParallelOperations: 5,
                iter: Budget.Iterations(Budget.Parallel),
                printActual: a => a.State(),
                printModel: m => m.State());
    }
}
