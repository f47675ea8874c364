using System.Reflection;

namespace LockFree.Auth.Tests.State;

/// <summary>
/// The checker the other suites trust: every property and Coyote scenario asserts that
/// <see cref="AuthSnapshot{T}.FindInvariantViolation"/> returns <see langword="null"/>, so a checker that always returned
/// <see langword="null"/> would pass them all. Each invariant I-S1..I-S5 (spec/concurrency-contract.md) is broken here
/// on purpose, one field at a time, and must be reported with its own message. The coordinator never builds these
/// snapshots, so they are made by setting the record's fields directly.
/// </summary>
public sealed class SnapshotInvariantCheckerTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TokenContainer Token = new() { AccessToken = "a", ObtainedAt = Now };

    [Fact]
    public void ValidSnapshots_NoViolation()
    {
        var cached = Task.FromResult(Token);
        Assert.Null(AuthSnapshot<TokenContainer>.Empty.FindInvariantViolation());
        Assert.Null(With(AuthSnapshot<TokenContainer>.Empty, ("Value", Token), ("Cached", cached), ("Fast", cached)).FindInvariantViolation());
        Assert.Null(With(AuthSnapshot<TokenContainer>.Empty, ("Value", Token), ("Cached", cached), ("UsableUntil", (DateTimeOffset?)Now), ("RefreshAt", (DateTimeOffset?)Now)).FindInvariantViolation());
    }

    [Fact]
    public void IS1_ValueWithoutCachedTask_Reported()
    {
        var snapshot = With(AuthSnapshot<TokenContainer>.Empty, ("Value", Token));
        Assert.Equal("I-S1: Value and Cached must be both set or both empty.", snapshot.FindInvariantViolation());
        Assert.Equal("I-S1: Value and Cached must be both set or both empty.", With(AuthSnapshot<TokenContainer>.Empty, ("Cached", Task.FromResult(Token))).FindInvariantViolation());
    }

    [Fact]
    public void IS1_CachedTaskOfAnotherValueOrNotCompleted_Reported()
    {
        var other = Token with { AccessToken = "b" };
        Assert.Equal("I-S1: Cached must be a completed task of Value.", With(AuthSnapshot<TokenContainer>.Empty, ("Value", Token), ("Cached", Task.FromResult(other))).FindInvariantViolation());
        Assert.Equal("I-S1: Cached must be a completed task of Value.", With(AuthSnapshot<TokenContainer>.Empty, ("Value", Token), ("Cached", new TaskCompletionSource<TokenContainer>().Task)).FindInvariantViolation());
    }

    [Fact]
    public void IS1_FastPathServingAnotherTask_Reported()
    {
        // Both tasks hold the same value; the fast path must serve the cached task itself.
        var snapshot = With(AuthSnapshot<TokenContainer>.Empty, ("Value", Token), ("Cached", Task.FromResult(Token)), ("Fast", Task.FromResult(Token)));
        Assert.Equal("I-S1: the fast path serves only the cached task.", snapshot.FindInvariantViolation());
    }

    [Fact]
    public void IS2_PendingAcquisitionOfAnotherGeneration_Reported()
    {
        using var owner = new AuthCoordinator<TokenContainer>(static (_, _) => Task.FromResult(Token));
        var pending = AuthSnapshot<TokenContainer>.Empty.WithPending(new Acquisition<TokenContainer>(owner, 1, null, isBackgroundRefresh: false));
        Assert.Null(pending.FindInvariantViolation());
        Assert.Equal("I-S2: the pending acquisition must belong to the current generation.", With(pending, ("Generation", 5L)).FindInvariantViolation());
    }

    [Fact]
    public void IS3_ValueFromAFutureGeneration_Reported()
    {
        var cached = Task.FromResult(Token);
        var snapshot = With(AuthSnapshot<TokenContainer>.Empty, ("Value", Token), ("Cached", cached), ("Generation", 2L), ("ValueGeneration", 3L));
        Assert.Equal("I-S3: a value cannot come from a future generation.", snapshot.FindInvariantViolation());
        Assert.Null(With(snapshot, ("ValueGeneration", 2L)).FindInvariantViolation());
    }

    [Fact]
    public void IS4_RefreshAfterExpiry_Reported()
    {
        var snapshot = With(AuthSnapshot<TokenContainer>.Empty, ("Value", Token), ("Cached", Task.FromResult(Token)), ("UsableUntil", (DateTimeOffset?)Now), ("RefreshAt", (DateTimeOffset?)Now.AddTicks(1)));
        Assert.Equal("I-S4: refresh must start no later than expiry.", snapshot.FindInvariantViolation());
    }

    [Fact]
    public void IS5_AnyScheduleWithoutAValue_Reported()
    {
        // Each of the three schedule fields on its own is a violation.
        const string Expected = "I-S5: no schedule without a value.";
        Assert.Equal(Expected, With(AuthSnapshot<TokenContainer>.Empty, ("UsableUntil", (DateTimeOffset?)Now)).FindInvariantViolation());
        Assert.Equal(Expected, With(AuthSnapshot<TokenContainer>.Empty, ("RefreshAt", (DateTimeOffset?)Now)).FindInvariantViolation());
        using var timer = TimeProvider.System.CreateTimer(static _ => { }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Assert.Equal(Expected, AuthSnapshot<TokenContainer>.Empty.WithTimer(timer).FindInvariantViolation());
    }

    /// <summary>A copy of <paramref name="snapshot"/> (the record's clone) with the given fields set.</summary>
    private static AuthSnapshot<TokenContainer> With(AuthSnapshot<TokenContainer> snapshot, params (string Property, object? Value)[] fields)
    {
        var type = typeof(AuthSnapshot<TokenContainer>);
        var copy = (AuthSnapshot<TokenContainer>)type.GetMethod("<Clone>$", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!.Invoke(snapshot, null)!;
        foreach (var (property, value) in fields)
        {
            var info = type.GetProperty(property, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
                ?? throw new InvalidOperationException($"AuthSnapshot has no property {property}.");
            info.SetValue(copy, value);
        }

        return copy;
    }
}
