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

        async Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken ct)
        {
            var n = Interlocked.Increment(ref acquisitions);
            if (acquisitionsPerGeneration.AddOrUpdate(context.Generation, 1, static (_, c) => c + 1) > 1)
            {
                violations.Enqueue($"I2: generation {context.Generation} started more than one acquisition.");
            }

            await Task.Yield(); // complete on another thread, while other callers race
            ct.ThrowIfCancellationRequested();
            if (n % 7 == 0)
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
                        var token = await call.WaitAsync(TimeSpan.FromSeconds(30));
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
                    catch (TimeoutException)
                    {
                        violations.Enqueue("A GetAsync call did not complete within 30 s (lost wake-up or hang).");
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
        await Task.WhenAll(workers);

        var final = await coordinator.GetAsync().WaitAsync(TimeSpan.FromSeconds(30)); // still live afterwards
        Observe();
        output.WriteLine($"{stopAt.Elapsed.TotalSeconds:F1} s, {workers.Length} threads: {served} served, {cancelled} cancelled, {failed} failed waits, {acquisitions} acquisitions, {invalidations} invalidations, {observations} snapshots checked.");
        Console.WriteLine($"COYOTE-STRESS seconds={stopAt.Elapsed.TotalSeconds:F1} threads={workers.Length} served={served} cancelled={cancelled} failed={failed} acquisitions={acquisitions} invalidations={invalidations} observations={observations}");

        Assert.True(violations.IsEmpty, string.Join(Environment.NewLine, violations.Take(10)));
        Assert.True(issued.ContainsKey(final));
        Assert.True(served > 0 && acquisitions > 1 && invalidations > 0 && observations > 0, "The stress run exercised nothing.");
    }
}
