using LockFree.Auth.CoyoteTests.Harness;
using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Sharing;

/// <summary>
/// The cross-replica protocol of issue 13 (spec/distributed.md) under Coyote: 2–3 replicas, each its own coordinator and
/// <see cref="SharedTokenAcquisition"/>, over one real <see cref="InMemorySharedTokenStore"/> and a controlled clock
/// (<see cref="ReplicaWorld"/>). Messages start with the invariant they check (R18–R22 of spec/distributed.md, R3/R4 where
/// those are what broke). Each overload with a store wrapper is how a seeded-bug twin of the store is explored.
/// </summary>
public static class SharingScenarios
{
    private const string NoLostWakeUp = "R4 (a waiter is woken by the notification, not by its fallback bound, when no holder crashed)";

    /// <summary>R18: 3 cold replicas × 2 callers → exactly one exchange, one record (version 1), one token for all.</summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task ColdStart() => ColdStart(null);

    internal static async Task ColdStart(Func<ISharedTokenStore, ISharedTokenStore>? seededBug)
    {
        await using var w = new ReplicaWorld(3, seededBug);
        foreach (var r in w.Replicas)
        {
            _ = r.Get(); // tracked: Replica.Calls
            _ = r.Get(); // tracked: Replica.Calls
        }

        await w.DriveAsync(TimeSpan.Zero, NoLostWakeUp);
        var exchanges = w.Endpoint.Exchanges;
        Specification.Assert(exchanges.Count == 1,
            $"R18 (one exchange per version): 3 cold replicas × 2 callers made {exchanges.Count} exchanges (expected 1): {Describe(exchanges)}.");
        var (record, shared) = await w.ReadRecordAsync();
        Specification.Assert(record is { Version: 1, IsRetired: false },
            $"R18 (one exchange per version): the record is {DescribeRecord(record)} after one cold start (expected live version 1).");
        await CheckEveryCallerGot(w.Replicas, shared!.AccessToken, "R18 (one exchange per version)");
    }

    /// <summary>
    /// R19: the shared token set expires twice; 2 replicas × 2 callers each time → one refresh per version, presenting the
    /// record's (rotating) refresh token; no refresh token is ever presented twice.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task RefreshRotation() => RefreshRotation(null);

    internal static async Task RefreshRotation(Func<ISharedTokenStore, ISharedTokenStore>? seededBug)
    {
        await using var w = new ReplicaWorld(2, seededBug);
        var seed = await w.SeedRecordAsync(expired: true);

        // Round 1: cold replicas, the record's token set (version 1) expired.
        foreach (var r in w.Replicas)
        {
            _ = r.Get(); // tracked: Replica.Calls
            _ = r.Get(); // tracked: Replica.Calls
        }

        await w.DriveAsync(TimeSpan.Zero, NoLostWakeUp);
        var first = await CheckRefreshRound(w, 1, seed.RefreshToken!, 2);

        // Round 2: the clock passes the shared token's expiry (the coordinators' refresh-ahead and expiry timers fire).
        w.Clock.Advance(ReplicaWorld.Lifetime);
        foreach (var r in w.Replicas)
        {
            _ = r.Get(); // tracked: Replica.Calls
            _ = r.Get(); // tracked: Replica.Calls
        }

        await w.DriveAsync(TimeSpan.Zero, NoLostWakeUp);
        await CheckRefreshRound(w, 2, first.RefreshToken!, 3);

        var reused = w.Endpoint.Reused;
        Specification.Assert(reused.Count == 0,
            $"R19 (no refresh-token reuse): {string.Join(", ", reused.Select(x => $"{x.RefreshToken} presented {x.Times} times"))}: {Describe(w.Endpoint.Exchanges)}.");
    }

    private static async Task<TokenContainer> CheckRefreshRound(ReplicaWorld w, int round, string recordRefreshToken, long version)
    {
        var exchanges = w.Endpoint.Exchanges;
        Specification.Assert(exchanges.Count == round,
            $"R19 (one refresh per version): after expiry {round}, {exchanges.Count} exchanges in all (expected {round}): {Describe(exchanges)}.");
        var refresh = exchanges[round - 1];
        Specification.Assert(refresh.Presented == recordRefreshToken,
            $"R19 (one refresh per version, with the record's refresh token): refresh {round} presented {refresh.Presented ?? "no refresh token"} (the record's is {recordRefreshToken}).");
        var (record, shared) = await w.ReadRecordAsync();
        Specification.Assert(record is { IsRetired: false } && record.Version == version && shared!.AccessToken == refresh.Issued?.AccessToken,
            $"R19 (one refresh per version): after expiry {round} the record is {DescribeRecord(record)} holding {shared?.AccessToken} (expected live version {version} holding {refresh.Issued?.AccessToken}).");
        await CheckEveryCallerGot(w.Replicas, shared!.AccessToken, $"R19 (one refresh per version, round {round})", skip: 2 * (round - 1));
        return shared;
    }

    /// <summary>
    /// R20: every replica adopted T (no exchange); then all three get a 401 for T at about the same time, each retires T
    /// in memory and in the store (<see cref="SharedTokenAcquisition.InvalidateIfAsync"/>) and retries. A rejection of
    /// T retires only T: whether it lands before or after the replacement's publication, there is exactly one exchange,
    /// the replacement stays live, and every retry gets it.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task InvalidationRacesPublication() => InvalidationRacesPublication(null);

    internal static async Task InvalidationRacesPublication(Func<ISharedTokenStore, ISharedTokenStore>? seededBug)
    {
        await using var w = new ReplicaWorld(3, seededBug);
        var seed = await w.SeedRecordAsync(expired: false);
        var adopted = w.Replicas.Select(r => r.Get()).ToArray();
        await w.DriveAsync(TimeSpan.Zero, NoLostWakeUp);
        foreach (var outcome in await Task.WhenAll(adopted))
        {
            Specification.Assert(outcome.Token?.AccessToken == seed.AccessToken, $"R6 (adopt without an exchange): a replica got {outcome.Token?.AccessToken ?? outcome.Error?.Message} instead of the shared {seed.AccessToken}.");
        }

        Specification.Assert(w.Endpoint.Exchanges.Count == 0, "R6 (adopt without an exchange): adopting the shared token caused an exchange.");

        var retiredCount = 0;
        var retries = w.Replicas.Select((r, i) => r.Run(async () =>
        {
            var rejected = adopted[i].Result.Token!;
            r.Coordinator.Invalidate(static (v, t) => v.AccessToken == t.AccessToken, rejected);
            if (await r.Shared.InvalidateIfAsync(rejected))
            {
                Interlocked.Increment(ref retiredCount);
            }

            return await r.Coordinator.GetAsync();
        })).ToArray();
        await w.DriveAsync(TimeSpan.Zero, NoLostWakeUp);
        await Task.WhenAll(retries);

        var exchanges = w.Endpoint.Exchanges;
        Specification.Assert(exchanges.Count == 1,
            $"R20 (a 401 for T retires only T): 3 rejections of {seed.AccessToken} caused {exchanges.Count} exchanges (expected 1): {Describe(exchanges)}.");
        var (record, shared) = await w.ReadRecordAsync();
        Specification.Assert(record is { Version: 2, IsRetired: false },
            $"R20 (a 401 for T retires only T): the record is {DescribeRecord(record)} holding {shared?.AccessToken}, though only {seed.AccessToken} was rejected (expected live version 2).");
        Specification.Assert(shared!.AccessToken == exchanges[0].Issued?.AccessToken,
            $"R20 (a 401 for T retires only T): the record holds {shared.AccessToken}, not the replacement {exchanges[0].Issued?.AccessToken}.");
        Specification.Assert(Volatile.Read(ref retiredCount) <= 1, $"R3 (conditional invalidation): {seed.AccessToken} was retired {retiredCount} times (at most once).");
        await CheckEveryCallerGot(w.Replicas, shared.AccessToken, "R20 (a 401 for T retires only T)", skip: 1);
    }

    /// <summary>
    /// R21: the first lease holder of an expired record crashes after one of its steps (Coyote chooses which: after the
    /// lease; during the exchange; after the exchange, before publishing; after publishing): the two other replicas
    /// still finish within the lease time to live + the fallback read interval of clock time, with at most one more
    /// exchange (none after a publication), presenting the record's refresh token, and converge on one token.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task HolderCrashes() => HolderCrashes(null);

    internal static async Task HolderCrashes(Func<ISharedTokenStore, ISharedTokenStore>? seededBug)
    {
        var stop = (HolderStop)(1 + Microsoft.Coyote.Random.Generator.Create().NextInteger(4));
        await using var w = new ReplicaWorld(3, seededBug, stop);
        var seed = await w.SeedRecordAsync(expired: true);
        foreach (var r in w.Replicas)
        {
            _ = r.Get(); // tracked: Replica.Calls
        }

        var bound = ReplicaWorld.LeaseTimeToLive + ReplicaWorld.FallbackReadInterval;
        await w.DriveAsync(bound, $"R21 (a crashed holder is replaced in time): holder crashed {stop}; bound = lease time to live + fallback read interval");
        Specification.Assert(w.VictimStopped, $"Harness: the first lease holder never reached its crash point {stop}.");
        var victim = w.Victim!;
        var survivors = w.Replicas.Where(r => r != victim).ToArray();

        var (record, shared) = await w.ReadRecordAsync();
        Specification.Assert(record is { Version: 2, IsRetired: false },
            $"R21 (one publication per version): after the holder crashed {stop}, the record is {DescribeRecord(record)} (expected live version 2).");
        var exchanges = w.Endpoint.Exchanges;
        var more = exchanges.Where(e => e.Replica != victim.Name).ToArray();
        var expected = stop == HolderStop.AfterPublish ? 0 : 1;
        Specification.Assert(more.Length == expected,
            $"R21 (at most one more exchange): after the holder crashed {stop}, the others made {more.Length} exchanges (expected {expected}): {Describe(exchanges)}.");
        Specification.Assert(more.All(e => e.Presented == seed.RefreshToken),
            $"R21 (the takeover uses the record's refresh token): {Describe(more)} (the record's is {seed.RefreshToken}).");

        // A holder that crashed after the endpoint spent the refresh token lost the new one with it: the takeover presents
        // the record's again (spec/distributed.md, "Failure modes"). Otherwise no refresh token is presented twice.
        var reuses = w.Endpoint.Reused.Sum(x => x.Times - 1);
        var expectedReuses = stop is HolderStop.DuringExchange or HolderStop.AfterExchange ? 1 : 0;
        Specification.Assert(reuses == expectedReuses,
            $"R21 (at most one more exchange): {reuses} refresh-token reuse(s) after the holder crashed {stop} (expected {expectedReuses}): {Describe(exchanges)}.");
        await CheckEveryCallerGot(survivors, shared!.AccessToken, $"R21 (the others converge after the holder crashed {stop})");
    }

    /// <summary>
    /// R22: the first lease holder pauses (after its lease, or after its exchange) past its lease time to live; another
    /// replica takes over and publishes version 2; then the paused holder comes back and publishes at its fence (1). The
    /// fence stops it: the record stays version 2 with the takeover's token set, and the stale holder converges on it.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task StaleHolderReturns() => StaleHolderReturns(null);

    internal static async Task StaleHolderReturns(Func<ISharedTokenStore, ISharedTokenStore>? seededBug)
    {
        var stop = Microsoft.Coyote.Random.Generator.Create().NextBoolean() ? HolderStop.AfterLease : HolderStop.AfterExchange;
        await using var w = new ReplicaWorld(2, seededBug, stop);
        await w.SeedRecordAsync(expired: true);
        foreach (var r in w.Replicas)
        {
            _ = r.Get(); // tracked: Replica.Calls
        }

        await w.DriveAsync(ReplicaWorld.LeaseTimeToLive + ReplicaWorld.FallbackReadInterval,
            $"R21 (a paused holder is replaced in time): holder paused {stop}; bound = lease time to live + fallback read interval");
        Specification.Assert(w.VictimStopped, $"Harness: the first lease holder never reached its pause point {stop}.");
        var victim = w.Victim!;
        var (takeoverRecord, takeover) = await w.ReadRecordAsync();
        Specification.Assert(takeoverRecord is { Version: 2 }, $"R21: the takeover did not publish version 2 (record {DescribeRecord(takeoverRecord)}).");

        // The stale holder comes back, still believing it holds the lease of version 1.
        w.Resume();
        await w.DriveAsync(TimeSpan.Zero, NoLostWakeUp);

        var (record, shared) = await w.ReadRecordAsync();
        Specification.Assert(record is { Version: 2, IsRetired: false } && shared!.AccessToken == takeover!.AccessToken,
            $"R22 (the fence stops a stale holder): the holder paused {stop} at fence 1 came back and overwrote the record: now {DescribeRecord(record)} holding {shared?.AccessToken} (the takeover published {takeover?.AccessToken} as version 2).");
        var back = (await Task.WhenAll(victim.Calls)).Single();
        Specification.Assert(back.Token?.AccessToken == takeover!.AccessToken,
            $"R22 (the fence stops a stale holder): the returning holder served {back.Token?.AccessToken ?? back.Error?.GetType().Name} instead of converging on the newer shared {takeover.AccessToken}.");
        await CheckEveryCallerGot(w.Replicas, takeover.AccessToken, "R22 (every replica converges on the newer version)");
    }

    /// <summary>Every caller of <paramref name="replicas"/> (but each one's first <paramref name="skip"/>: earlier rounds) succeeded with <paramref name="accessToken"/>.</summary>
    private static async Task CheckEveryCallerGot(IEnumerable<Replica> replicas, string accessToken, string property, int skip = 0)
    {
        foreach (var r in replicas)
        {
            var mine = r.Calls.Skip(skip);
            foreach (var outcome in await Task.WhenAll(mine))
            {
                Specification.Assert(outcome.Token is not null, $"{property}: a caller of replica {r.Name} failed: {outcome.Error?.GetType().Name}: {outcome.Error?.Message}");
                Specification.Assert(outcome.Token!.AccessToken == accessToken,
                    $"{property}: a caller of replica {r.Name} got {outcome.Token.AccessToken}, the record holds {accessToken}.");
            }
        }
    }

    private static string Describe(IEnumerable<RotatingTokenEndpoint.Exchange> exchanges) =>
        string.Join("; ", exchanges.Select(e => $"#{e.Number} by {e.Replica} presenting {e.Presented ?? "client credentials"} → {e.Issued?.AccessToken ?? "(no answer)"}"));

    private static string DescribeRecord(SharedTokenRecord? record) =>
        record is null ? "absent" : $"version {record.Version}{(record.IsRetired ? " (retired)" : "")}";
}
