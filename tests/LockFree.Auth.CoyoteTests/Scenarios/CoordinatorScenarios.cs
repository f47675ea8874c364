using LockFree.Auth.CoyoteTests.Harness;
using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Scenarios;

/// <summary>
/// Scenarios run by Coyote against the real <see cref="AuthCoordinator{T}"/>. Each is one iteration of an
/// exploration: the concurrent parts are <c>Task.Run</c> tasks whose interleaving Coyote chooses, and the token
/// endpoint answers from its own controlled task. The invariant numbers (I1..I10) are those of
/// <c>spec/concurrency-contract.md</c>. The parameterless public overloads carry <c>[Test]</c> so the Coyote CLI
/// can run and replay them too (spec/coyote.md).
/// </summary>
public static class CoordinatorScenarios
{
    internal static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(100); // usable until 90 s, refresh from 80 s

    /// <summary>I2: 3 concurrent cold callers share one acquisition and get the same instance; an observer sees only valid snapshots.</summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task ColdStart() => ColdStart(new World(Lifetime), 3);

    internal static async Task ColdStart(World world, int callers)
    {
        await using var w = world;
        var observer = Task.Run(() => w.Observe());
        var calls = Enumerable.Range(0, callers).Select(_ => Task.Run(() => w.Coordinator.GetAsync())).ToArray();
        var tokens = await Task.WhenAll(calls);
        await observer;

        Specification.Assert(w.Server.Count == 1, $"{callers} cold callers started {w.Server.Count} acquisitions (expected 1).");
        foreach (var t in tokens)
        {
            Specification.Assert(ReferenceEquals(t, tokens[0]), $"Cold callers got different tokens: {t.AccessToken} and {tokens[0].AccessToken}.");
            w.CheckServed(t);
        }

        var after = w.Observe();
        Specification.Assert(ReferenceEquals(after.Value, tokens[0]), "The coalesced token was not cached.");
    }

    /// <summary>
    /// I7: the cached token expires (its timer fires from a concurrent task) while two callers race. A caller that starts
    /// after the expiry never gets the expired token, the expired token is replaced by exactly one acquisition, and
    /// the expired token is never cached again.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task ExpiryWhileCallersRace()
    {
        await using var w = new World(Lifetime);
        var first = await w.Coordinator.GetAsync();
        Specification.Assert(w.Clock.ActiveTimers == 1, $"Expected one timer for the cached token, found {w.Clock.ActiveTimers}.");

        var expiry = Task.Run(() => w.Clock.Advance(TimeSpan.FromSeconds(95))); // past usable-until (90 s)
        var calls = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            var expiredBefore = w.Clock.Fired > 0 && w.Clock.GetUtcNow() >= ControlledClock.Epoch + TimeSpan.FromSeconds(90);
            var token = await w.Coordinator.GetAsync();
            Specification.Assert(!(expiredBefore && ReferenceEquals(token, first)), "A caller that started after the expiry got the expired token.");
            w.Observe();
            return token;
        })).ToArray();
        var tokens = await Task.WhenAll(calls);
        await expiry;

        var fresh = tokens.Where(t => !ReferenceEquals(t, first)).Distinct().ToArray();
        Specification.Assert(fresh.Length <= 1, $"Callers got {fresh.Length} different fresh tokens (expected at most one).");
        var last = await w.Coordinator.GetAsync();
        Specification.Assert(!ReferenceEquals(last, first), "The expired token was served after the expiry.");
        Specification.Assert(w.Server.Count == 2, $"{w.Server.Count} acquisitions (expected 2: the first and one replacement).");
        w.CheckServed(last);
        w.Observe();
    }

    /// <summary>
    /// I3: an unconditional invalidation races with the response of the acquisition in flight. If the invalidation
    /// happened after the acquisition was installed, its token is returned to its caller but never cached.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task InvalidateDuringAcquisition() => InvalidateDuringAcquisition(new World(Lifetime));

    internal static async Task InvalidateDuringAcquisition(World world)
    {
        await using var w = world;
        var caller = Task.Run(() => w.Coordinator.GetAsync());
        var invalidator = Task.Run(() =>
        {
            var installedBefore = w.Server.Count > 0; // the request exists only after the acquisition was installed
            w.Coordinator.Invalidate();
            return installedBefore;
        });

        var token = await caller;
        var invalidatedAfterInstall = await invalidator;
        w.CheckServed(token);
        var snapshot = w.Observe();
        if (invalidatedAfterInstall)
        {
            Specification.Assert(!ReferenceEquals(snapshot.Value, token), "I3: the token of an invalidated generation was cached (stale after Invalidate).");
            var next = await w.Coordinator.GetAsync();
            Specification.Assert(!ReferenceEquals(next, token), "I3: the next call after Invalidate got the invalidated generation's token.");
            Specification.Assert(w.Server.Count == 2, $"{w.Server.Count} acquisitions (expected 2).");
        }
    }

    /// <summary>
    /// I4: three callers hold the same token, the resource server rejects it, and each one invalidates it
    /// conditionally and retries: exactly one new acquisition, all retries get the same new token.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task ConditionalInvalidationStorm() => ConditionalInvalidationStorm(static (c, rejected) => c.Invalidate(static (v, r) => ReferenceEquals(v, r), rejected));

    internal static async Task ConditionalInvalidationStorm(Action<ITokenCoordinator, TokenContainer> onRejected)
    {
        await using var w = new World(Lifetime);
        var rejected = await w.Coordinator.GetAsync();
        var retries = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            var held = await w.Coordinator.GetAsync();
            if (ReferenceEquals(held, rejected))
            {
                onRejected(w.Coordinator, held); // what a provider does on 401 invalid_token
                held = await w.Coordinator.GetAsync();
            }

            Specification.Assert(!ReferenceEquals(held, rejected), "A retry got the rejected token again.");
            return held;
        })).ToArray();
        var tokens = await Task.WhenAll(retries);

        Specification.Assert(w.Server.Count == 2, $"I4: a storm of 3 rejections of one token started {w.Server.Count - 1} new acquisitions (expected 1).");
        foreach (var t in tokens)
        {
            Specification.Assert(ReferenceEquals(t, tokens[0]), "Retries got different replacement tokens.");
            w.CheckServed(t);
        }

        w.Observe();
    }

    /// <summary>
    /// I5: the acquisition fails while 3 callers wait: every caller that joined it gets the failure, nothing is
    /// cached from it, and the next acquisition (exactly one) succeeds and is cached.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task FailureReachesAllWaiters()
    {
        await using var w = new World(Lifetime);
        w.Server.ShouldFail = static n => n == 1;
        var calls = Enumerable.Range(0, 3).Select(_ => Task.Run(() => World.Capture(w.Coordinator.GetAsync()))).ToArray();
        var outcomes = await Task.WhenAll(calls);
        var observed = w.Observe();
        Specification.Assert(!observed.IsAcquiring || w.Server.Count <= 2, "A failed acquisition stayed installed.");

        foreach (var o in outcomes)
        {
            Specification.Assert(o.Token is not null || o.Error is TokenEndpointException { Request: 1 }, $"A caller got {o.Error} instead of the endpoint's failure or a token.");
            if (o.Token is { } t)
            {
                Specification.Assert(w.Server.IssuerOf(t)?.Number == 2, "A token came from somewhere other than the retry.");
            }
        }

        var last = await w.Coordinator.GetAsync();
        w.CheckServed(last);
        Specification.Assert(w.Server.Count == 2, $"{w.Server.Count} acquisitions (expected 2: the failed one and one retry).");
        w.Observe();
    }

    /// <summary>
    /// I6: one of two waiters cancels its wait. Its wait ends (or it already had the token); the other waiter gets
    /// the token and the shared work is not cancelled while a waiter remains.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task WaiterCancelled()
    {
        await using var w = new World(Lifetime);
        using var leaving = new CancellationTokenSource();
        using var staying = new CancellationTokenSource();
        var a = Task.Run(() => World.Capture(w.Coordinator.GetAsync(staying.Token)));
        var b = Task.Run(() => World.Capture(w.Coordinator.GetAsync(leaving.Token)));
        var cancel = Task.Run(leaving.Cancel);
        var stayed = await a;
        var left = await b;
        await cancel;

        Specification.Assert(stayed.Token is not null, $"The waiter that stayed did not get a token: {stayed.Error?.GetType().Name}.");
        Specification.Assert(left.Token is not null || left.Cancelled, $"The leaving waiter got {left.Error}.");
        w.CheckServed(stayed.Token!);
        Specification.Assert(w.Server.Count <= 2, $"{w.Server.Count} acquisitions for two callers.");
        Specification.Assert(w.Server.Requests.All(r => !r.WasCancelled || w.Server.Count == 2), "The shared work was cancelled while a waiter remained.");
        w.Observe();
    }

    /// <summary>
    /// I6, the abandon path: both cancellable waiters cancel while a third, non-cancellable caller arrives. The last waiter
    /// to leave cancels the shared work; the late caller either pins the acquisition before that or removes the
    /// abandoned one and starts a fresh one. It always gets a token, and a cancelled exchange never produces a cached token.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task AllWaitersLeave()
    {
        await using var w = new World(Lifetime);
        using var ctsA = new CancellationTokenSource();
        using var ctsB = new CancellationTokenSource();
        var a = Task.Run(() => World.Capture(w.Coordinator.GetAsync(ctsA.Token)));
        var b = Task.Run(() => World.Capture(w.Coordinator.GetAsync(ctsB.Token)));
        var cancel = Task.Run(() =>
        {
            ctsA.Cancel();
            ctsB.Cancel();
        });
        var late = Task.Run(() => World.Capture(w.Coordinator.GetAsync()));
        var outcomes = await Task.WhenAll(new[] { a, b, late }); // an array: Coyote 1.7.11 does not intercept the params-span overload (.NET 9+)
        await cancel;

        var c = outcomes[2];
        Specification.Assert(c.Token is not null, $"I6: the late non-cancellable caller did not get a token: {c.Error?.GetType().Name}.");
        w.CheckServed(c.Token!);
        foreach (var o in outcomes.Take(2))
        {
            Specification.Assert(o.Token is not null || o.Cancelled, $"A cancelled waiter got {o.Error}.");
        }

        // At most one acquisition per caller: a abandons its own, b (arriving after) starts and abandons another, c starts the last.
        Specification.Assert(w.Server.Count <= 3, $"{w.Server.Count} acquisitions for 3 callers.");
        foreach (var o in outcomes.Where(o => o.Token is not null))
        {
            // (The server task that answers a request is not awaited: only exchanges whose response succeeded count.)
            var issuer = w.Server.IssuerOf(o.Token!);
            Specification.Assert(issuer is not null && issuer.Response.IsCompletedSuccessfully && !issuer.WasCancelled, "A caller got the token of a cancelled exchange.");
        }

        var snapshot = w.Observe();
        Specification.Assert(snapshot.Value is null || ReferenceEquals(snapshot.Value, c.Token), "The cached token is not the one the late caller got.");
    }

    /// <summary>
    /// I6: the first caller (whose call installed the acquisition) cancels while a second caller joins. Only the
    /// first caller's wait ends; the second caller always gets a token.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task FirstCallerCancelled() => FirstCallerCancelled(new World(Lifetime));

    internal static async Task FirstCallerCancelled(World world)
    {
        await using var w = world;
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        var firstCall = World.Capture(w.Coordinator.GetAsync(first.Token)); // installs the acquisition
        var cancel = Task.Run(first.Cancel);
        var secondCall = Task.Run(() => World.Capture(w.Coordinator.GetAsync(second.Token)));

        var a = await firstCall;
        var b = await secondCall;
        await cancel;

        Specification.Assert(a.Token is not null || a.Cancelled, $"First caller: unexpected {a.Error}");
        Specification.Assert(b.Token is not null, $"I6: the second caller did not get a token (the first caller's cancellation reached the shared work): {b.Error?.GetType().Name}");
        w.CheckServed(b.Token!);
        Specification.Assert(w.Server.Count <= 2, $"{w.Server.Count} acquisitions for two callers.");
        w.Observe();
    }

    /// <summary>
    /// I7 with refresh-ahead: the refresh-ahead timer starts a background acquisition, then expiry fires from another
    /// task while callers race and the server answers whenever. Exactly one refresh, callers get the old token only
    /// while it is usable, and the refreshed token ends up cached.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task RefreshAheadRacesExpiry()
    {
        await using var w = new World(Lifetime);
        var old = await w.Coordinator.GetAsync();
        w.Clock.Advance(TimeSpan.FromSeconds(85)); // refresh-ahead due at 80 s: the timer marks it due
        var servedWhileDue = await w.Coordinator.GetAsync(); // the first use inside the window starts it
        Specification.Assert(ReferenceEquals(servedWhileDue, old), "The still-usable token was not served while its refresh started.");
        Specification.Assert(w.Server.Count == 2, $"Refresh-ahead did not start exactly one background acquisition ({w.Server.Count - 1}).");
        Specification.Assert(w.Server.Requests[1].Context.IsBackgroundRefresh, "The refresh was not marked as a background refresh.");

        var expiry = Task.Run(() => w.Clock.Advance(TimeSpan.FromSeconds(10))); // 95 s: past usable-until (90 s)
        var calls = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            var expiredBefore = w.Clock.GetUtcNow() >= ControlledClock.Epoch + TimeSpan.FromSeconds(90) && w.Clock.Fired >= 2;
            var token = await w.Coordinator.GetAsync();
            Specification.Assert(!(expiredBefore && ReferenceEquals(token, old)), "A caller that started after the expiry got the expired token.");
            w.Observe();
            return token;
        })).ToArray();
        await Task.WhenAll(calls);
        await expiry;

        var last = await w.Coordinator.GetAsync();
        Specification.Assert(!ReferenceEquals(last, old), "The expired token is still served.");
        Specification.Assert(w.Server.Count == 2, $"{w.Server.Count - 1} refreshes (expected exactly 1).");
        w.CheckServed(last);
        w.Observe();
    }

    /// <summary>
    /// I8: two keys of an <see cref="AuthCoordinatorMap{TKey,T}"/> are used in parallel. Racing first uses of a key
    /// share one coordinator; each key has one acquisition; a key whose server hangs never delays the other key.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task TwoKeysInParallel()
    {
        var clock = new ControlledClock();
        var slow = new TokenServer(clock, Lifetime) { AutoRespond = false }; // key "a" hangs until the end
        var fast = new TokenServer(clock, Lifetime);
        var map = new AuthCoordinatorMap<string, TokenContainer>(key =>
            new AuthCoordinator<TokenContainer>(key == "a" ? slow.AcquireAsync : fast.AcquireAsync, static t => t.ExpiresAt, clock, World.Options));

        var a = Enumerable.Range(0, 2).Select(_ => Task.Run(() => map.For("a").GetAsync())).ToArray();
        var b = Enumerable.Range(0, 2).Select(_ => Task.Run(() => map.For("b").GetAsync())).ToArray();
        var tokensB = await Task.WhenAll(b); // completes although key "a" never answered
        Specification.Assert(ReferenceEquals(tokensB[0], tokensB[1]), "Key b's callers got different tokens.");
        Specification.Assert(fast.Count == 1, $"Key b started {fast.Count} acquisitions.");

        await Task.WhenAll(a.Select(t => (Task)t).Append(Task.Run(async () =>
        {
            while (slow.Count == 0)
            {
                await Task.Yield(); // until key a's acquisition was installed
            }

            slow.RespondAll();
        })));
        var tokensA = a.Select(t => t.Result).ToArray();
        Specification.Assert(ReferenceEquals(tokensA[0], tokensA[1]), "Key a's callers got different tokens.");
        Specification.Assert(slow.Count == 1, $"Key a started {slow.Count} acquisitions (two coordinators for one key?).");
        Specification.Assert(!ReferenceEquals(tokensA[0], tokensB[0]), "Two keys shared a token.");
        Specification.Assert(map.Entries.Count() == 2, $"The map holds {map.Entries.Count()} coordinators for 2 keys.");
        map.Dispose();
        await slow.DrainAsync();
        await fast.DrainAsync();
    }

    /// <summary>
    /// I11: <see cref="AuthCoordinatorMap{TKey,T}.InvalidateAll"/> races the publication of key a's acquisition (and a
    /// caller of key b). Whichever interleaving Coyote picks, once InvalidateAll returned the value acquired before it is
    /// neither the key's current value nor served by a later <c>GetAsync</c>; the acquisition's own waiter still gets it.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task MapInvalidateAllDuringPublication() =>
        MapInvalidateAllDuringPublication(static factory => new AuthCoordinatorMap<string, TokenContainer>(factory));

    internal static async Task MapInvalidateAllDuringPublication(Func<Func<string, AuthCoordinator<TokenContainer>>, AuthCoordinatorMap<string, TokenContainer>> createMap)
    {
        var clock = new ControlledClock();
        var server = new TokenServer(clock, Lifetime) { AutoRespond = false };
        var map = createMap(_ => new AuthCoordinator<TokenContainer>(server.AcquireAsync, static t => t.ExpiresAt, clock, World.Options));

        var first = Task.Run(() => map.For("a").GetAsync());
        while (server.Count == 0)
        {
            await Task.Yield(); // until key a's acquisition was installed
        }

        var publish = Task.Run(() => server.Requests[0].Respond());
        var invalidate = Task.Run(() =>
        {
            map.InvalidateAll();

            // Everything below starts after InvalidateAll returned.
            var current = map.For("a").Current.Value;
            var later = map.For("a").GetAsync();
            return (Current: current, Served: later.IsCompletedSuccessfully ? later.Result : null);
        });

        await publish;
        var (current, served) = await invalidate;
        var old = await first;
        Specification.Assert(ReferenceEquals(old, server.Requests[0].Issued), "The acquisition's own waiter did not get its result.");
        Specification.Assert(!ReferenceEquals(current, old), "I11: a value acquired before InvalidateAll is still cached after it returned.");
        Specification.Assert(!ReferenceEquals(served, old), "I11: a value acquired before InvalidateAll was served after it returned.");

        server.AutoRespond = true;
        server.RespondAll();
        var next = await map.For("a").GetAsync();
        Specification.Assert(!ReferenceEquals(next, old), "I11: a value acquired before InvalidateAll was served after it returned.");
        Specification.Assert(server.Count == 2, $"{server.Count} acquisitions (expected 2: one before, one after InvalidateAll).");
        map.Dispose();
        await server.DrainAsync();
    }

    /// <summary>
    /// Re-entrancy: the acquisition itself calls <see cref="AuthCoordinator{T}.Invalidate()"/> (for example a provider
    /// that resets its state while exchanging). No deadlock; its callers get its token; it is not cached; the next call
    /// starts a new acquisition.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task ReentrantInvalidate()
    {
        await using var w = new World(Lifetime);
        w.Server.OnRequest = r =>
        {
            if (r.Number == 1)
            {
                w.Coordinator.Invalidate();
            }
        };
        var calls = Enumerable.Range(0, 2).Select(_ => Task.Run(() => w.Coordinator.GetAsync())).ToArray();
        var tokens = await Task.WhenAll(calls);
        var snapshot = w.Observe();
        var first = w.Server.Requests[0].Issued;
        Specification.Assert(!ReferenceEquals(snapshot.Value, first) || first is null, "A token whose acquisition invalidated itself was cached.");
        foreach (var t in tokens)
        {
            w.CheckServed(t);
        }

        var next = await w.Coordinator.GetAsync();
        Specification.Assert(!ReferenceEquals(next, first), "The self-invalidated token was served after the invalidation completed.");
        Specification.Assert(w.Server.Count <= 3, $"{w.Server.Count} acquisitions.");
        w.Observe();
    }
}
