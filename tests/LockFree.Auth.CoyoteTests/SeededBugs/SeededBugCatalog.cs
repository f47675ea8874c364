using System.Text.RegularExpressions;
using LockFree.Auth.CoyoteTests.Harness;
using LockFree.Auth.CoyoteTests.Scenarios;
using LockFree.Auth.CoyoteTests.Sharing;
using LockFree.Auth.Testing.Sharing;

namespace LockFree.Auth.CoyoteTests.SeededBugs;

/// <summary>One seeded bug: the scenario (over the buggy variant) that must catch it and the text its report must match.</summary>
internal sealed record SeededBug(string Name, string Description, Func<Task> Scenario, Regex ExpectedBug);

/// <summary>The seeded bugs of issue 3, each a minimal edit of the real algorithm living in this test project.</summary>
internal static class SeededBugCatalog
{
    public static readonly IReadOnlyDictionary<string, SeededBug> All = new[]
    {
        new SeededBug(
            "NaiveCache",
            "pre-fix naive cache: unsynchronized `if (_token is null) _token = await Exchange()`",
            () => CoordinatorScenarios.ColdStart(new World(CoordinatorScenarios.Lifetime, static w => new NaiveTokenCache(w.Server)), 3),
            new Regex(@"cold callers started [2-9] acquisitions|different tokens", RegexOptions.CultureInvariant)),
        new SeededBug(
            "NonAtomicCas",
            "AuthCell's compare-and-swap replaced by Volatile.Read + Volatile.Write (real coordinator, buggy cell)",
            () => CoordinatorScenarios.ColdStart(new World(CoordinatorScenarios.Lifetime, static w => new RealCoordinator(
                new AuthCoordinator<TokenContainer>(w.Server.AcquireAsync, static t => t.ExpiresAt, w.Clock, World.Options,
                    new NonAtomicCasCell<AuthSnapshot<TokenContainer>>(AuthSnapshot<TokenContainer>.Empty)))), 3),
            new Regex(@"cold callers started [2-9] acquisitions|different tokens|not cached|I-S\d", RegexOptions.CultureInvariant)),
        new SeededBug(
            "PublishWithoutGenerationCheck",
            "the acquisition publishes without checking it is still the pending one of its generation",
            () => CoordinatorScenarios.InvalidateDuringAcquisition(new World(CoordinatorScenarios.Lifetime, static w => new SeededCoordinator(w.Server, CoordinatorBug.PublishWithoutGenerationCheck))),
            new Regex(@"I3: |came from generation \d+ but the snapshot says", RegexOptions.CultureInvariant)),
        new SeededBug(
            "BlindInvalidation",
            "on a rejected token the caller invalidates unconditionally instead of Invalidate(isRejected, token)",
            () => CoordinatorScenarios.ConditionalInvalidationStorm(static (c, _) => c.Invalidate()),
            new Regex(@"I4: a storm of 3 rejections of one token started [2-9] new acquisitions|Retries got different replacement tokens", RegexOptions.CultureInvariant)),
        new SeededBug(
            "SharedWorkOnFirstCallersToken",
            "the shared acquisition runs on the first caller's CancellationToken instead of the acquisition's own",
            () => CoordinatorScenarios.FirstCallerCancelled(new World(CoordinatorScenarios.Lifetime, static w => new SeededCoordinator(w.Server, CoordinatorBug.SharedWorkOnFirstCallersToken))),
            new Regex(@"I6: the second caller did not get a token", RegexOptions.CultureInvariant)),
        new SeededBug(
            "MapEpochCheckSkipped",
            "the map's coordinators skip the invalidation-epoch check, so InvalidateAll (one epoch increment) reaches none of them",
            () => CoordinatorScenarios.MapInvalidateAllDuringPublication(static factory => new AuthCoordinatorMap<string, TokenContainer>(
                factory, AuthCoordinatorMap<string, TokenContainer>.DefaultCapacity, seededBugCoordinatorEpoch: new InvalidationEpoch())),
            new Regex(@"I11: a value acquired before InvalidateAll", RegexOptions.CultureInvariant)),

        // Issue 13: the shared token store's seeded-bug twins (tests/LockFree.Auth.Testing/Sharing/SeededSharedStores.cs)
        // around the real InMemorySharedTokenStore, under the replica scenarios.
        new SeededBug(
            "Sharing.FenceIgnored",
            "the store publishes over whatever version is current (a compare-and-set without the compare: no version fence)",
            () => SharingScenarios.StaleHolderReturns(static s => new FenceIgnoringStore(s)),
            new Regex(@"R22 \(the fence stops a stale holder\)", RegexOptions.CultureInvariant)),
        new SeededBug(
            "Sharing.BlindSharedInvalidation",
            "the store's InvalidateIf retires whatever token the record holds (the rejected token's fingerprint is ignored)",
            () => SharingScenarios.InvalidationRacesPublication(static s => new BlindInvalidationStore(s)),
            new Regex(@"R20 \(a 401 for T retires only T\)", RegexOptions.CultureInvariant)),
        new SeededBug(
            "Sharing.UnfencedLease",
            "the store grants a lease whatever the version and whoever holds it (Stale and Held become Granted)",
            () => SharingScenarios.ColdStart(static s => new UnfencedLeaseStore(s)),
            new Regex(@"R18 \(one exchange per version\)", RegexOptions.CultureInvariant)),
        new SeededBug(
            "Sharing.EternalLease",
            "the store ignores the lease's time to live (a crashed holder's lease never runs out)",
            () => SharingScenarios.HolderCrashes(static s => new EternalLeaseStore(s)),
            new Regex(@"R21 \(a crashed holder is replaced in time\)", RegexOptions.CultureInvariant)),
    }.ToDictionary(b => b.Name, StringComparer.Ordinal);

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var name in All.Keys)
        {
            data.Add(name);
        }

        return data;
    }
}
