using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.State;

/// <summary>
/// A controllable acquisition for coordinator tests: every started acquisition waits on a gate that the test
/// completes, fails or leaves pending; counts how many were started.
/// </summary>
internal sealed class TestAcquirer
{
    private readonly FakeTimeProvider _time;
    private readonly List<Gate> _gates = [];
    private int _started;

    public TestAcquirer(FakeTimeProvider time, TimeSpan? lifetime = null)
    {
        _time = time;
        Lifetime = lifetime;
    }

    public TimeSpan? Lifetime { get; set; }

    public int Started => Volatile.Read(ref _started);

    public Action<AcquisitionContext<TokenContainer>>? OnStart { get; set; }

    /// <summary>When set, the fake work ignores cancellation of its token (a slow server that does not stop).</summary>
    public bool CancelIgnored { get; set; }

    public IReadOnlyList<Gate> Gates { get { lock (_gates) { return [.. _gates]; } } }

    public Gate Last => Gates[^1];

    public Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _started);
        var gate = new Gate(number, context, cancellationToken, this);
        lock (_gates) { _gates.Add(gate); }
        OnStart?.Invoke(context);
        return gate.Task;
    }

    public AuthCoordinator<TokenContainer> CreateCoordinator(AuthCoordinatorOptions? options = null) =>
        new(AcquireAsync, static t => t.ExpiresAt, _time, options);

    public TokenContainer NewToken(int number) => new()
    {
        AccessToken = $"access-{number}",
        RefreshToken = $"refresh-{number}",
        ObtainedAt = _time.GetUtcNow(),
        ExpiresIn = Lifetime,
    };

    public sealed class Gate
    {
        private readonly TaskCompletionSource<TokenContainer> _tcs = new();
        private readonly TestAcquirer _owner;

        public Gate(int number, AcquisitionContext<TokenContainer> context, CancellationToken token, TestAcquirer owner)
        {
            Number = number;
            Context = context;
            Token = token;
            _owner = owner;
            if (!owner.CancelIgnored)
            {
                token.Register(() => _tcs.TrySetCanceled(token));
            }
        }

        public int Number { get; }
        public AcquisitionContext<TokenContainer> Context { get; }
        public CancellationToken Token { get; }
        public Task<TokenContainer> Task => _tcs.Task;

        public TokenContainer Complete()
        {
            var token = _owner.NewToken(Number);
            WithoutSynchronizationContext(() => _tcs.SetResult(token));
            return token;
        }

        public void Fail(Exception exception) => WithoutSynchronizationContext(() => _tcs.SetException(exception));

        // xunit's SynchronizationContext makes the runtime queue continuations instead of running them inline;
        // completing outside it makes "completed" mean "published" when Complete() returns, deterministically.
        private static void WithoutSynchronizationContext(Action action)
        {
            var previous = SynchronizationContext.Current;
            SynchronizationContext.SetSynchronizationContext(null);
            try { action(); }
            finally { SynchronizationContext.SetSynchronizationContext(previous); }
        }
    }
}
