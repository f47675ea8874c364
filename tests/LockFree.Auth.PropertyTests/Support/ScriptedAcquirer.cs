using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.PropertyTests.Support;

/// <summary>
/// The controllable fake acquisition of one key: every acquisition the coordinator starts gets a <see cref="Gate"/>
/// that the property completes, fails or cancels later. Tokens are named <c>{key}-{n}</c> after the start order.
/// </summary>
/// <remarks>
/// Gates complete their task synchronously on the caller's thread (no <c>RunContinuationsAsynchronously</c>), so when
/// <see cref="Gate.Complete"/> returns, the coordinator has already published or discarded the result: the
/// sequential model can be compared right after every step without waiting.
/// </remarks>
internal sealed class ScriptedAcquirer(string key, FakeTimeProvider time, bool observesCancellation)
{
    private readonly ConcurrentQueue<Gate> _gates = new();
    private int _started;

    public string Key { get; } = key;

    public int Started => Volatile.Read(ref _started);

    /// <summary>Every gate, in start order.</summary>
    public IReadOnlyList<Gate> Gates => [.. _gates.OrderBy(g => g.Number)];

    /// <summary>Gates whose work has not ended yet, in start order.</summary>
    public IReadOnlyList<Gate> Open => [.. Gates.Where(g => !g.Task.IsCompleted)];

    /// <summary>When set, the next acquisition calls <c>Invalidate()</c> on this coordinator from inside the delegate (I9).</summary>
    public AuthCoordinator<TokenContainer>? InvalidateOnNextStart { get; set; }

    public Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        if (InvalidateOnNextStart is { } coordinator)
        {
            InvalidateOnNextStart = null;
            coordinator.Invalidate();
        }

        var gate = new Gate(Interlocked.Increment(ref _started), context, time.GetUtcNow(), this);
        _gates.Enqueue(gate);
        if (observesCancellation)
        {
            // Like an HTTP call that observes the coordinator's token; the registration runs synchronously on the
            // thread that cancels, so the coordinator has removed the acquisition when Cancel returns.
            cancellationToken.Register(static state => ((Gate)state!).CancelWork(), gate);
        }

        return gate.Task;
    }

    public AuthCoordinator<TokenContainer> CreateCoordinator(AuthCoordinatorOptions options) =>
        new(AcquireAsync, static t => t.ExpiresAt, time, options);

    public AuthCoordinator<TokenContainer> CreateCoordinator(AuthCoordinatorOptions options, AuthCell<AuthSnapshot<TokenContainer>> cell) =>
        new(AcquireAsync, static t => t.ExpiresAt, time, options, cell);

    public string TokenName(int number) => $"{Key}-{number}";

    /// <summary>One acquisition's work, finished by the test.</summary>
    public sealed class Gate(int number, AcquisitionContext<TokenContainer> context, DateTimeOffset startedAt, ScriptedAcquirer owner)
    {
        private readonly TaskCompletionSource<TokenContainer> _tcs = new();

        public int Number { get; } = number;

        public AcquisitionContext<TokenContainer> Context { get; } = context;

        /// <summary>When the work started: the token it produces was issued then (so it may arrive already expired).</summary>
        public DateTimeOffset StartedAt { get; } = startedAt;

        public Task<TokenContainer> Task => _tcs.Task;

        public TokenContainer Complete(TimeSpan? lifetime)
        {
            var token = new TokenContainer
            {
                AccessToken = owner.TokenName(Number),
                RefreshToken = $"refresh-{owner.TokenName(Number)}",
                ObtainedAt = StartedAt,
                ExpiresIn = lifetime,
            };
            _tcs.SetResult(token);
            return token;
        }

        public void Fail() => _tcs.SetException(new InvalidOperationException($"token endpoint failed for {owner.TokenName(Number)}"));

        public void CancelWork() => _tcs.TrySetCanceled();
    }
}
