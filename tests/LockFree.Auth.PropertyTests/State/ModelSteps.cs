namespace LockFree.Auth.PropertyTests.State;

/// <summary>How a generated <c>GetAsync</c> call passes its token.</summary>
internal enum TokenKind
{
    /// <summary><see cref="CancellationToken.None"/>: the caller pins the acquisition it waits for.</summary>
    None,

    /// <summary>A token the property may cancel later (<see cref="Step.CancelCaller"/>).</summary>
    Cancellable,

    /// <summary>A token that is already cancelled.</summary>
    PreCancelled,
}

/// <summary>Where a generated clock step lands, relative to the current key's value schedule.</summary>
internal enum AdvanceKind
{
    OneSecond,
    FortyFiveSeconds,
    TwentyMinutes,
    JustBeforeRefreshAt,
    AtRefreshAt,
    BetweenRefreshAndUsableUntil,
    JustBeforeUsableUntil,
    AtUsableUntil,
    PastExpiry,
}

/// <summary>One generated operation of the model-based property, applied to the real system and to the model.</summary>
internal abstract record Step
{
    public sealed record Get(TokenKind Token) : Step;

    /// <summary>Completes the <c>Pick % n</c>-th open acquisition of the current key with a token of the given lifetime.</summary>
    public sealed record Complete(int Pick, int Lifetime) : Step;

    /// <summary>The <c>Pick % n</c>-th open acquisition fails (the token endpoint returned an error).</summary>
    public sealed record Fail(int Pick) : Step;

    /// <summary>The <c>Pick % n</c>-th open acquisition's own work ends cancelled (e.g. an HTTP timeout).</summary>
    public sealed record CancelWork(int Pick) : Step;

    /// <summary>The <c>Pick % n</c>-th waiting cancellable caller of the current key cancels its own wait.</summary>
    public sealed record CancelCaller(int Pick) : Step;

    public sealed record Invalidate : Step;

    /// <summary><c>Invalidate(isRejected)</c> with the current value (a real 401) or with a stale one.</summary>
    public sealed record Reject(bool Current) : Step;

    public sealed record Advance(AdvanceKind Kind) : Step;

    /// <summary>Disposes the current key's coordinator (its work in flight is cancelled; later gets fail).</summary>
    public sealed record Dispose : Step;

    /// <summary>The next acquisition of the current key calls <c>Invalidate()</c> from inside its delegate (I9).</summary>
    public sealed record InvalidateFromInside : Step;

    /// <summary>Later operations act on the other key of the <see cref="AuthCoordinatorMap{TKey,T}"/>.</summary>
    public sealed record SwitchKey : Step;

    /// <summary>The lifetimes a completed acquisition may carry (index <see cref="Complete.Lifetime"/>); null: no expiry.</summary>
    public static readonly TimeSpan?[] Lifetimes =
    [
        null,
        TimeSpan.Zero, // "expires_in": 0 — unusable on arrival whatever the latency
        TimeSpan.FromSeconds(2),
        TimeSpan.FromSeconds(10),
        TimeSpan.FromSeconds(100),
        TimeSpan.FromMinutes(10),
        TimeSpan.FromHours(1),
    ];

    public static readonly string[] Keys = ["a", "b"];

    /// <summary>The options of every coordinator of the property: the documented defaults, written out.</summary>
    public static AuthCoordinatorOptions Options() => new()
    {
        SkewMargin = TimeSpan.FromSeconds(30),
        MaxSkewFraction = 0.1,
        RefreshAheadWindow = TimeSpan.FromMinutes(2),
        MaxRefreshAheadFraction = 0.2,
        RefreshRetryDelay = TimeSpan.FromSeconds(5),
        Name = "property",
    };

    public static readonly DateTimeOffset Origin = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The instant a clock step lands on, from the current key's schedule (both sides compute it from their own state).</summary>
    public static DateTimeOffset Target(AdvanceKind kind, DateTimeOffset now, DateTimeOffset? refreshAt, DateTimeOffset? usableUntil, DateTimeOffset? expiresAt)
    {
        DateTimeOffset? target = kind switch
        {
            AdvanceKind.OneSecond => now.AddSeconds(1),
            AdvanceKind.FortyFiveSeconds => now.AddSeconds(45),
            AdvanceKind.TwentyMinutes => now.AddMinutes(20),
            AdvanceKind.JustBeforeRefreshAt => refreshAt?.AddTicks(-1),
            AdvanceKind.AtRefreshAt => refreshAt,
            AdvanceKind.BetweenRefreshAndUsableUntil => refreshAt is { } r && usableUntil is { } u ? r + ((u - r) / 2) : null,
            AdvanceKind.JustBeforeUsableUntil => usableUntil?.AddTicks(-1),
            AdvanceKind.AtUsableUntil => usableUntil,
            AdvanceKind.PastExpiry => expiresAt?.AddSeconds(1),
            _ => null,
        };
        return target is { } t && t > now ? t : now.AddSeconds(1);
    }
}
