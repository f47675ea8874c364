using System.Diagnostics;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// What one child process measures: one scenario, one side, one hop latency; for each repetition every size in
/// <paramref name="Ns"/> in order (the baseline first; a size that makes 2.4.0 block pool threads last).
/// </summary>
internal sealed record StormSpec(string Scenario, Side Side, int HopMs, int[] Ns, int Reps);

/// <summary>One measurement of one size.</summary>
internal sealed record SizedResult(int N, StormResult Result);

/// <summary>One repetition's outcome.</summary>
/// <param name="Ms">The scenario's time (time-to-all, exchange time, or the blocked time of one call).</param>
/// <param name="Exchanges">Token exchanges started (RFC 8693 requests at the IdP; token grants for ClientOAuth).</param>
/// <param name="Distinct">Distinct access tokens handed to the callers.</param>
/// <param name="Errors">Callers that failed (other than the deliberately cancelled one).</param>
/// <param name="Unfinished">Callers not served when the repetition hit <see cref="Storms.Cap"/> (then <paramref name="Ms"/> is the cap).</param>
/// <param name="AuxMs">Scenario-specific second time (InvalidateCache timing: mean of 1,000 further calls while the exchange is still in flight).</param>
internal sealed record StormResult(double Ms, int Exchanges, int Distinct, int Errors, int Unfinished = 0, double? AuxMs = null);

/// <summary>
/// The storm scenarios that BenchmarkDotNet does not fit. Each measurement uses fresh subjects; each child process
/// serves one side only, so thread-pool growth caused by one side never helps or hurts the other.
/// </summary>
internal static class Storms
{
    /// <summary>A repetition that has not finished after this long is recorded as capped (2.4.0's 401 storm can take minutes).</summary>
    public static readonly TimeSpan Cap = TimeSpan.FromSeconds(15);

    public static readonly string[] Scenarios = ["expiry", "reject401", "invalidate-inflight", "cancel-first", "starvation", "clientoauth-refresh"];

    public static async Task<List<SizedResult>> RunAsync(StormSpec spec)
    {
        var hop = TimeSpan.FromMilliseconds(spec.HopMs);
        await WarmUpAsync(spec).ConfigureAwait(false);

        // One priming measurement at the real latency, discarded: the first measurement of a process was
        // systematically slower (timer queue, pool threads, caches), which would bias whichever size came first.
        // It uses the baseline size, which never makes 2.4.0 block pool threads.
        int[] primed = [spec.Scenario is "starvation" or "cancel-first" ? 0 : 1, .. spec.Ns];
        if (spec.Scenario == "expiry")
        {
            return [.. (await ExpiryAsync(spec.Side, hop, primed, spec.Reps).ConfigureAwait(false)).Skip(1)];
        }

        var results = new List<SizedResult>();
        for (var rep = 0; rep < spec.Reps; rep++)
        {
            foreach (var n in rep == 0 ? primed : spec.Ns)
            {
                var result = spec.Scenario switch
                {
                    "reject401" => await Reject401Async(spec.Side, hop, n).ConfigureAwait(false),
                    "invalidate-inflight" => await InvalidateInFlightAsync(spec.Side, hop).ConfigureAwait(false),
                    "cancel-first" => await CancelFirstAsync(spec.Side, hop, n).ConfigureAwait(false),
                    "starvation" => await StarvationAsync(spec.Side, hop, n).ConfigureAwait(false),
                    "clientoauth-refresh" => await ClientOAuthStorm.RefreshStormAsync(spec.Side, hop, n).ConfigureAwait(false),
                    _ => throw new ArgumentException($"Unknown scenario '{spec.Scenario}'."),
                };
                results.Add(new SizedResult(n, result));
            }
        }

        return [.. results.Skip(1)];
    }

    /// <summary>JIT the whole flow (both paths) with little or no latency, without growing the thread pool.</summary>
    private static async Task WarmUpAsync(StormSpec spec)
    {
        if (spec.Scenario == "clientoauth-refresh")
        {
            await ClientOAuthStorm.WarmUpAsync(spec.Side).ConfigureAwait(false);
            return;
        }

        for (var i = 0; i < 3; i++)
        {
            // The first round with a real (1 ms) delay: timers and the timer thread are part of every measurement.
            using var subject = CrossAppSubject.Create(spec.Side, i == 0 ? TimeSpan.FromMilliseconds(1) : TimeSpan.Zero);
            var token = await subject.GetTokenAsync().ConfigureAwait(false);
            subject.InvalidateRejected(token);
            await subject.GetTokenAsync().ConfigureAwait(false);
            subject.InvalidateAll();
            using var cts = new CancellationTokenSource();
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => subject.GetTokenAsync(cts.Token))).ConfigureAwait(false);
        }
    }

    /// <summary>N callers find the cached token expired at the same time.</summary>
    private static async Task<List<SizedResult>> ExpiryAsync(Side side, TimeSpan hop, int[] ns, int reps)
    {
        // Prepare every measurement first, so the real-clock wait that 2.4.0 needs happens once.
        var subjects = new List<(int N, CrossAppSubject Subject)>();
        for (var i = 0; i < reps; i++)
        {
            foreach (var n in ns)
            {
                var subject = CrossAppSubject.Create(side, hop);
                await subject.WarmWithShortLivedTokenAsync().ConfigureAwait(false);
                subjects.Add((n, subject));
            }
        }

        var results = new List<SizedResult>();
        foreach (var (n, subject) in subjects)
        {
            using (subject)
            {
                await subject.ExpireAsync().ConfigureAwait(false);
                subject.Endpoints.ResetCounters();
                var (ms, distinct, errors) = await subject.StormAsync(n, Stopwatch.GetTimestamp()).ConfigureAwait(false);
                results.Add(new SizedResult(n, new StormResult(ms, subject.Endpoints.IdpExchanges, distinct, errors)));
            }
        }

        return results;
    }

    /// <summary>
    /// The resource server revoked the cached token. N handlers send a request with it (one hop each), all get a
    /// 401 at about the same time, invalidate (2.4.0: <c>InvalidateCache()</c>; ours: <c>InvalidateCache(rejected)</c>),
    /// get a token again and resend. N = 1 is the baseline: one handler doing the same.
    /// </summary>
    private static async Task<StormResult> Reject401Async(Side side, TimeSpan hop, int n)
    {
        // Not disposed: a capped repetition leaves 2.4.0's handlers blocked in InvalidateCache(); the process exits.
        var subject = CrossAppSubject.Create(side, hop);
        var revoked = await subject.GetTokenAsync().ConfigureAwait(false);
        subject.Endpoints.Revoke(revoked);
        subject.Endpoints.ResetCounters();
        var start = Stopwatch.GetTimestamp();
        var handlers = new Task<string>[n];
        for (var c = 0; c < n; c++)
        {
            handlers[c] = Task.Run(async () =>
            {
                var token = await subject.GetTokenAsync().ConfigureAwait(false);
                for (var attempt = 0; attempt < 3 && !await subject.CallResourceAsync(token).ConfigureAwait(false); attempt++)
                {
                    subject.InvalidateRejected(token);
                    token = await subject.GetTokenAsync().ConfigureAwait(false);
                }

                return token;
            });
        }

        return await CollectCappedAsync(subject, handlers, start).ConfigureAwait(false);
    }

    /// <summary>How long <c>InvalidateCache()</c> blocks its caller (a dedicated thread) while an exchange is in flight.</summary>
    private static async Task<StormResult> InvalidateInFlightAsync(Side side, TimeSpan hop)
    {
        using var subject = CrossAppSubject.Create(side, hop);
        await subject.GetTokenAsync().ConfigureAwait(false);
        subject.InvalidateAll();
        subject.Endpoints.ResetCounters();

        using var idpArrived = new ManualResetEventSlim();
        subject.Endpoints.OnRequestArrived = kind =>
        {
            if (kind == "idp")
            {
                idpArrived.Set();
            }
        };

        double blockedMs = 0;
        double? steadyMs = null;
        var invalidator = new Thread(() =>
        {
            // A real caller's thread (a pool thread handling a 401) has run this code before: warm this thread's
            // per-thread state (allocation context, thread statics of the collections the call enumerates) on a
            // throwaway instance, so the measurement is not the thread's first-ever call.
            using (var throwaway = CrossAppSubject.Create(side, TimeSpan.Zero))
            {
                throwaway.InvalidateAll();
                throwaway.InvalidateAll();
            }

            _ = Stopwatch.GetTimestamp();
            idpArrived.Wait();
            var t0 = Stopwatch.GetTimestamp();
            subject.InvalidateAll();
            blockedMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;

            // Further calls while the same exchange is still in flight (2.4.0's first call waited for the exchange
            // to finish, so only a side whose exchange is still running gets this number).
            const int Calls = 1000;
            var t1 = Stopwatch.GetTimestamp();
            for (var i = 0; i < Calls; i++)
            {
                subject.InvalidateAll();
            }

            var elapsed = Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
            if (subject.Endpoints.AsExchanges == 0)
            {
                steadyMs = elapsed / Calls;
            }
        })
        { IsBackground = true, Name = "invalidator" };
        invalidator.Start();

        var inFlight = Task.Run(() => subject.GetTokenAsync());
        var (tokens, errors) = await CollectAsync([inFlight]).ConfigureAwait(false);
        await Task.Run(invalidator.Join).ConfigureAwait(false);
        return new StormResult(blockedMs, subject.Endpoints.IdpExchanges, tokens.Count, errors, AuxMs: steadyMs);
    }

    /// <summary>
    /// The first caller starts the exchange with a cancellable token; while it is in flight N more callers wait for
    /// it; then the first caller is cancelled. Time is from the first caller's start until all N are served.
    /// N = 0 measures the same exchange with nobody cancelled (the baseline).
    /// </summary>
    private static async Task<StormResult> CancelFirstAsync(Side side, TimeSpan hop, int n)
    {
        using var subject = CrossAppSubject.Create(side, hop);
        await subject.GetTokenAsync().ConfigureAwait(false);
        subject.InvalidateAll();
        subject.Endpoints.ResetCounters();
        var idpArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subject.Endpoints.OnRequestArrived = kind =>
        {
            if (kind == "idp")
            {
                idpArrived.TrySetResult();
            }
        };

        using var cts = new CancellationTokenSource();
        var start = Stopwatch.GetTimestamp();
        var first = Task.Run(() => subject.GetTokenAsync(n == 0 ? CancellationToken.None : cts.Token));
        if (n == 0)
        {
            var (t0, e0) = await CollectAsync([first]).ConfigureAwait(false);
            return new StormResult(Stopwatch.GetElapsedTime(start).TotalMilliseconds, subject.Endpoints.IdpExchanges, t0.Count, e0);
        }

        await idpArrived.Task.ConfigureAwait(false);
        var joined = 0;
        var waiters = new Task<string>[n];
        for (var c = 0; c < n; c++)
        {
            waiters[c] = Task.Run(async () =>
            {
                var pending = subject.GetTokenAsync();
                Interlocked.Increment(ref joined);
                return await pending.ConfigureAwait(false);
            });
        }

        while (Volatile.Read(ref joined) < n)
        {
            await Task.Delay(1).ConfigureAwait(false);
        }

        await cts.CancelAsync().ConfigureAwait(false);
        var (tokens, errors) = await CollectAsync(waiters).ConfigureAwait(false);
        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        try
        {
            await first.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Expected: the first caller was cancelled.
        }

        return new StormResult(ms, subject.Endpoints.IdpExchanges, tokens.Count, errors);
    }

    /// <summary>
    /// An exchange is in flight; K thread-pool work items each call <c>InvalidateCache()</c>. Measures the exchange
    /// time seen by the caller that started it. K = 0 is the baseline.
    /// </summary>
    private static async Task<StormResult> StarvationAsync(Side side, TimeSpan hop, int k)
    {
        // Not disposed: see Reject401Async.
        var subject = CrossAppSubject.Create(side, hop);
        await subject.GetTokenAsync().ConfigureAwait(false);
        subject.InvalidateAll();
        subject.Endpoints.ResetCounters();
        var idpArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subject.Endpoints.OnRequestArrived = kind =>
        {
            if (kind == "idp")
            {
                idpArrived.TrySetResult();
            }
        };

        var start = Stopwatch.GetTimestamp();
        var exchange = Task.Run(() => subject.GetTokenAsync());
        await idpArrived.Task.ConfigureAwait(false);
        var invalidators = new Task[k];
        for (var i = 0; i < k; i++)
        {
            invalidators[i] = Task.Run(subject.InvalidateAll);
        }

        var result = await CollectCappedAsync(subject, [exchange], start).ConfigureAwait(false);
        if (result.Unfinished == 0)
        {
            await Task.WhenAny(Task.WhenAll(invalidators), Task.Delay(Cap)).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>
    /// Waits for the callers at most until <see cref="Cap"/> after <paramref name="start"/>. Unfinished callers are
    /// abandoned: these repetitions run one per process, and the process exits right after reporting.
    /// </summary>
    private static async Task<StormResult> CollectCappedAsync(CrossAppSubject subject, Task<string>[] callers, long start)
    {
        var all = Task.WhenAll(callers);
        var remaining = Cap - Stopwatch.GetElapsedTime(start);
        if (remaining > TimeSpan.Zero)
        {
            await Task.WhenAny(all, Task.Delay(remaining)).ConfigureAwait(false);
        }

        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var unfinished = callers.Count(t => !t.IsCompleted);
        if (unfinished > 0)
        {
            return new StormResult(Cap.TotalMilliseconds, subject.Endpoints.IdpExchanges, callers.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).Distinct(StringComparer.Ordinal).Count(), callers.Count(t => t.IsFaulted || t.IsCanceled), unfinished);
        }

        var (tokens, errors) = await CollectAsync(callers).ConfigureAwait(false);
        return new StormResult(ms, subject.Endpoints.IdpExchanges, tokens.Count, errors);
    }

    internal static async Task<(HashSet<string> Tokens, int Errors)> CollectAsync(IReadOnlyList<Task<string>> tasks)
    {
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Counted below, per task.
        }

        var tokens = new HashSet<string>(StringComparer.Ordinal);
        var errors = 0;
        foreach (var task in tasks)
        {
            if (task.IsCompletedSuccessfully)
            {
                tokens.Add(task.Result);
            }
            else
            {
                errors++;
            }
        }

        return (tokens, errors);
    }
}
