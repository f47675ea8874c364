using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using LockFree.Auth.CoyoteTests.Harness;
using Xunit.Abstractions;

namespace LockFree.Auth.CoyoteTests;

/// <summary>
/// Coyote serializes execution and does not model the hardware memory model, so this complements it: real threads
/// hammer the real core with random gets (plain and cancellable, some cancelled), unconditional and conditional
/// invalidations, failing acquisitions and clock moves (expiry, refresh-ahead) for a bounded time
/// (COYOTE_STRESS_SECONDS: 20 s from coyote.runsettings, 10 s without it; at most 60 s unless
/// COYOTE_STRESS_UNBOUNDED=1), checking the same invariants as the Coyote scenarios.
/// </summary>
[Collection(CoyoteSerial.Name)]
public sealed class RealThreadStressTests(ITestOutputHelper output)
{
    private static TimeSpan Duration
    {
        get
        {
            var seconds = double.TryParse(Environment.GetEnvironmentVariable("COYOTE_STRESS_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 10;
            if (Environment.GetEnvironmentVariable("COYOTE_STRESS_UNBOUNDED") != "1")
            {
                seconds = Math.Min(seconds, 60);
            }

            return TimeSpan.FromSeconds(seconds);
        }
    }

    [Fact]
    public async Task Stress_RandomOperationsOnRealThreads_InvariantsHoldAndEveryCallCompletes()
    {
        var clock = new ControlledClock();
        var issued = new ConcurrentDictionary<TokenContainer, long>(ReferenceEqualityComparer.Instance); // token -> generation
        var acquisitionsPerGeneration = new ConcurrentDictionary<long, int>();
        var violations = new ConcurrentQueue<string>();
        long acquisitions = 0, served = 0, cancelled = 0, failed = 0, invalidations = 0, observations = 0;

        // The test's own deliberate faults (every 7th acquisition fails) belong to the workers' phase only. Whether an
        // acquisition fails is decided when it starts, so once the workers stopped and faults were switched off, at
        // most the one acquisition already in flight can still fail, and the final check retries past it.
        var faultsEnabled = 1;

        async Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken ct)
        {
            var n = Interlocked.Increment(ref acquisitions);
            var fault = Volatile.Read(ref faultsEnabled) == 1 && n % 7 == 0;
            if (acquisitionsPerGeneration.AddOrUpdate(context.Generation, 1, static (_, c) => c + 1) > 1)
            {
                violations.Enqueue($"I2: generation {context.Generation} started more than one acquisition.");
            }

            await Task.Yield(); // complete on another thread, while other callers race
            ct.ThrowIfCancellationRequested();
            if (fault)
            {
                throw new TokenEndpointException((int)n);
            }

            var token = new TokenContainer { AccessToken = $"a{n}", ObtainedAt = clock.GetUtcNow(), ExpiresIn = TimeSpan.FromSeconds(100) };
            issued[token] = context.Generation;
            return token;
        }

        using var coordinator = new AuthCoordinator<TokenContainer>(AcquireAsync, static t => t.ExpiresAt, clock, World.Options);

        void Observe()
        {
            Interlocked.Increment(ref observations);
            var s = coordinator.Current;
            if (s.FindInvariantViolation() is { } v)
            {
                violations.Enqueue($"Torn or invalid snapshot: {v} ({s})");
            }

            if (s.Value is { } value && (!issued.TryGetValue(value, out var g) || g != s.ValueGeneration))
            {
                violations.Enqueue($"Cached token {value.AccessToken} does not belong to generation {s.ValueGeneration}.");
            }
        }

        var duration = Duration;
        var stopAt = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, Math.Max(4, Environment.ProcessorCount * 2)).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            while (stopAt.Elapsed < duration && violations.IsEmpty)
            {
                Observe();
                var op = random.Next(100);
                if (op < 60)
                {
                    using var cts = new CancellationTokenSource();
                    var call = op < 30 ? coordinator.GetAsync() : coordinator.GetAsync(cts.Token);
                    if (op >= 50)
                    {
                        cts.Cancel();
                    }

                    try
                    {
                        var token = await call.Within();
                        if (!issued.ContainsKey(token))
                        {
                            violations.Enqueue($"Served token {token.AccessToken} was never issued by an acquisition.");
                        }

                        Interlocked.Increment(ref served);
                        if (random.Next(10) == 0 && coordinator.Invalidate(static (v, t) => ReferenceEquals(v, t), token))
                        {
                            Interlocked.Increment(ref invalidations);
                        }
                    }
                    catch (HangException hang)
                    {
                        violations.Enqueue($"A GetAsync call did not complete (lost wake-up or hang): {hang.Message}");
                    }
                    catch (OperationCanceledException)
                    {
                        Interlocked.Increment(ref cancelled);
                    }
                    catch (TokenEndpointException)
                    {
                        Interlocked.Increment(ref failed);
                    }
                }
                else if (op < 70)
                {
                    coordinator.Invalidate();
                    Interlocked.Increment(ref invalidations);
                }
                else if (op < 72 && worker == 0)
                {
                    clock.Advance(TimeSpan.FromSeconds(random.Next(1, 60))); // refresh-ahead and expiry timers fire here
                }
                else
                {
                    await Task.Yield();
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).Within(duration + TimeSpan.FromSeconds(60));

        // Still live afterwards. A deliberate fault is not a failure of the test: with faults off, a final call that
        // meets one (it joined the acquisition in flight when the workers stopped) retries once; anything else fails.
        Volatile.Write(ref faultsEnabled, 0);
        var final = await FinalGetAsync(coordinator);
        Observe();
        output.WriteLine($"{stopAt.Elapsed.TotalSeconds:F1} s, {workers.Length} threads: {served} served, {cancelled} cancelled, {failed} failed waits, {acquisitions} acquisitions, {invalidations} invalidations, {observations} snapshots checked.");
        Console.WriteLine($"COYOTE-STRESS seconds={stopAt.Elapsed.TotalSeconds:F1} threads={workers.Length} served={served} cancelled={cancelled} failed={failed} acquisitions={acquisitions} invalidations={invalidations} observations={observations}");

        Assert.True(violations.IsEmpty, string.Join(Environment.NewLine, violations.Take(10)));
        Assert.True(issued.ContainsKey(final));
        Assert.True(served > 0 && acquisitions > 1 && invalidations > 0 && observations > 0, "The stress run exercised nothing.");
    }

    /// <summary>
    /// The final liveness check of the stress test: called after the deliberate faults were switched off, it tolerates
    /// exactly the faults the test injected (at most <paramref name="attempts"/> - 1 of them: the acquisition that was
    /// in flight when the faults were switched off) and fails on anything else, or on a hang.
    /// </summary>
    internal static async Task<TokenContainer> FinalGetAsync(AuthCoordinator<TokenContainer> coordinator, int attempts = 2)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await coordinator.GetAsync().Within();
            }
            catch (TokenEndpointException) when (attempt < attempts)
            {
                // The test's own deliberate fault, from an acquisition started while faults were on.
            }
        }
    }

    /// <summary>
    /// The flake of issue 16, made deterministic: the acquisition in flight when the workers stop is one of the test's
    /// deliberate faults. The final check must still pass (retrying past it once), and must fail on a fault that
    /// persists after the faults were switched off.
    /// </summary>
    [Fact]
    public async Task FinalGet_AcquisitionInFlightIsADeliberateFault_RetriesOnceAndSucceeds()
    {
        // The check as it was (one attempt) fails in exactly this situation: the flake.
        await Assert.ThrowsAsync<TokenEndpointException>(() => FinalGetMeetingAFault(attempts: 1));

        var (final, calls) = await FinalGetMeetingAFault(attempts: 2);
        Assert.Equal("after", final.AccessToken);
        Assert.Equal(2, calls);

        // Negative control: a fault that persists is not swallowed.
        using var broken = new AuthCoordinator<TokenContainer>(static (_, _) => Task.FromException<TokenContainer>(new TokenEndpointException(1)), null, new ControlledClock(), World.Options);
        await Assert.ThrowsAsync<TokenEndpointException>(() => FinalGetAsync(broken));
    }

    private static async Task<(TokenContainer Final, int Calls)> FinalGetMeetingAFault(int attempts)
    {
        var clock = new ControlledClock();
        var release = new TaskCompletionSource();
        var calls = 0;
        async Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken ct)
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await release.Task.Within(); // in flight while the "workers stop"
                throw new TokenEndpointException(7);
            }

            return new TokenContainer { AccessToken = "after", ObtainedAt = clock.GetUtcNow() };
        }

        using var coordinator = new AuthCoordinator<TokenContainer>(AcquireAsync, static t => t.ExpiresAt, clock, World.Options);
        var inFlight = coordinator.GetAsync(); // a worker's call: the deliberate fault
        var final = FinalGetAsync(coordinator, attempts); // joins the faulting acquisition in flight
        release.SetResult();
        await Assert.ThrowsAsync<TokenEndpointException>(() => inFlight.Within());
        return (await final.Within(), Volatile.Read(ref calls));
    }
}
