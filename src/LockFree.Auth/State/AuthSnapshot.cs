using System.Diagnostics;

namespace LockFree.Auth;

/// <summary>
/// One immutable state of an <see cref="AuthCoordinator{T}"/>: the cached value and its expiry schedule,
/// the generation, the in-flight acquisition, and what refresh-ahead needs.
/// </summary>
/// <typeparam name="T">The cached value: a <see cref="TokenContainer"/> for tokens, a metadata record for discovery.</typeparam>
/// <remarks>
/// <para>
/// Every transition is a pure <c>With…</c> method that returns a new snapshot and leaves this one unchanged;
/// predicates take <c>now</c>. The coordinator publishes a transition with one compare-and-swap of the
/// reference it owns (see <c>spec/concurrency-contract.md</c>, section "State machine").
/// </para>
/// <para>
/// Concurrency: immutable. A reader reads the coordinator's reference once into a local and works only on that
/// local, so it can never observe half of a transition (no torn reads).
/// </para>
/// </remarks>
internal sealed record AuthSnapshot<T> where T : class
{
    /// <summary>The empty state of generation 0.</summary>
    internal static AuthSnapshot<T> Empty { get; } = new();

    private AuthSnapshot() { }

    /// <summary>
    /// The epoch of this state. It increases when an acquisition is installed and when <see cref="WithInvalidated()"/>
    /// runs; an acquisition may publish only while the snapshot still holds it in the generation it was installed in.
    /// </summary>
    public long Generation { get; private init; }

    /// <summary>
    /// The invalidation epoch of the map that holds the coordinator (0 outside a map) under which this snapshot's
    /// value was acquired and its acquisition installed (I11). Set only by <see cref="WithInvalidated(long)"/>: every
    /// other transition keeps it, so a value published by an acquisition carries the epoch the acquisition was installed
    /// in, never the epoch at publication. While it differs from the map's current epoch the snapshot counts as
    /// invalidated: nothing in it is served or joined.
    /// </summary>
    public long Epoch { get; private init; }

    /// <summary>The cached value, or <see langword="null"/> when there is none to serve.</summary>
    public T? Value { get; private init; }

    /// <summary>A completed task whose result is <see cref="Value"/>.</summary>
    public Task<T>? Cached { get; private init; }

    /// <summary>
    /// What the fast path returns: <see cref="Cached"/> while the value is fresh, <see langword="null"/> once a
    /// refresh is due (the next caller takes the slow path, starts the background refresh and still gets
    /// <see cref="Cached"/>). An idle client therefore never refreshes in the background.
    /// </summary>
    public Task<T>? Fast { get; private init; }

    /// <summary>The generation whose acquisition produced <see cref="Value"/>.</summary>
    public long ValueGeneration { get; private init; }

    /// <summary>After this instant <see cref="Value"/> counts as expired (expiry minus skew); <see langword="null"/>: never.</summary>
    public DateTimeOffset? UsableUntil { get; private init; }

    /// <summary>From this instant a background acquisition should replace <see cref="Value"/>; <see langword="null"/>: never.</summary>
    public DateTimeOffset? RefreshAt { get; private init; }

    /// <summary>
    /// The last value that was retired by expiry or by a conditional invalidation. It is never served; the next
    /// acquisition may use it (for example its refresh token).
    /// </summary>
    public T? Retired { get; private init; }

    /// <summary>The in-flight acquisition of <see cref="Generation"/>, if any.</summary>
    internal Acquisition<T>? Pending { get; private init; }

    /// <summary>Whether an acquisition is in flight.</summary>
    public bool IsAcquiring => Pending is not null;

    /// <summary>The timer that drives refresh-ahead and expiry of <see cref="Value"/> (owned by the coordinator).</summary>
    internal ITimer? Timer { get; private init; }

    /// <summary>Whether <see cref="Value"/> may be served at <paramref name="now"/>.</summary>
    public bool IsUsable(DateTimeOffset now) => Value is not null && (UsableUntil is not { } until || now < until);

    /// <summary>Whether a background refresh is due at <paramref name="now"/> (the value is still usable, nothing is in flight).</summary>
    public bool IsRefreshDue(DateTimeOffset now) => IsUsable(now) && Pending is null && RefreshAt is { } at && now >= at;

    /// <summary>Whether the fast path serves <see cref="Value"/> (it is fresh, or its refresh is already in flight).</summary>
    public bool IsFresh => Fast is not null;

    /// <summary>
    /// <see cref="Value"/> when the fast path serves it, else <see langword="null"/>. Callers that peek at the value
    /// instead of calling <see cref="AuthCoordinator{T}.GetAsync"/> must use this, so that a due refresh still starts
    /// (through their fallback to <c>GetAsync</c>).
    /// </summary>
    public T? FreshValue => Fast is null ? null : Value;

    /// <summary>Installs <paramref name="acquisition"/> (created for generation <c>Generation + 1</c>); the value, if any, is kept for refresh-ahead.</summary>
    internal AuthSnapshot<T> WithPending(Acquisition<T> acquisition)
    {
        Debug.Assert(Pending is null, "At most one acquisition per snapshot.");
        Debug.Assert(acquisition.Generation == Generation + 1, "An acquisition opens the next generation.");
        return this with { Generation = acquisition.Generation, Pending = acquisition, Fast = Cached };
    }

    /// <summary>Marks a refresh as due: the fast path stops serving so that the next caller starts the background refresh.</summary>
    internal AuthSnapshot<T> WithRefreshDue() =>
        Fast is null || Pending is not null ? this : this with { Fast = null };

    /// <summary>
    /// Publishes the result of the pending acquisition with its expiry schedule computed at <paramref name="now"/>.
    /// A value that is already unusable at <paramref name="now"/> is not cached (its waiters still receive it); if it
    /// was a background refresh of a still-usable value, that value stays and its refresh is retried after
    /// <see cref="AuthCoordinatorOptions.RefreshRetryDelay"/>.
    /// </summary>
    internal AuthSnapshot<T> WithPublished(T value, Task<T> completed, DateTimeOffset? expiresAt, DateTimeOffset now, AuthCoordinatorOptions options)
    {
        Debug.Assert(Pending is not null, "Only the pending acquisition publishes.");
        var (usableUntil, refreshAt) = Schedule(expiresAt, now, options);
        if (usableUntil is { } u && u <= now)
        {
            if (IsUsable(now))
            {
                // A background refresh brought a value that is already unusable: keep serving the still-usable value
                // it was meant to replace and retry later, as after a failed refresh (I7). Dropping it would make
                // callers wait for a new acquisition, which refresh-ahead exists to avoid. The publisher re-arms the timer.
                return this with { Pending = null, Fast = Cached, RefreshAt = Min(now + options.RefreshRetryDelay, UsableUntil), Timer = null };
            }

            return this with { Value = null, Cached = null, Fast = null, UsableUntil = null, RefreshAt = null, Retired = value, Pending = null, Timer = null };
        }

        return this with
        {
            Value = value,
            Cached = completed,
            Fast = completed,
            ValueGeneration = Generation,
            UsableUntil = usableUntil,
            RefreshAt = refreshAt,
            Retired = null,
            Pending = null,
            Timer = null,
        };
    }

    /// <summary>Removes the failed (or abandoned) pending acquisition. A still-usable value stays and is refreshed again from <paramref name="retryAt"/>.</summary>
    internal AuthSnapshot<T> WithFailed(DateTimeOffset retryAt)
    {
        Debug.Assert(Pending is not null, "Only a pending acquisition fails.");
        return Value is null
            ? this with { Pending = null }
            : this with { Pending = null, Fast = Cached, RefreshAt = Min(retryAt, UsableUntil) };
    }

    /// <summary>Retires the value (expired, or rejected by the resource server). An in-flight acquisition stays: it is already replacing the value.</summary>
    internal AuthSnapshot<T> WithRetired() =>
        Value is null ? this : this with { Value = null, Cached = null, Fast = null, UsableUntil = null, RefreshAt = null, Retired = Value, Timer = null };

    /// <summary>Forgets everything and opens a new generation: an in-flight acquisition can no longer publish.</summary>
    internal AuthSnapshot<T> WithInvalidated() => WithInvalidated(Epoch);

    /// <summary>Forgets everything and opens a new generation in invalidation epoch <paramref name="epoch"/> (I11).</summary>
    internal AuthSnapshot<T> WithInvalidated(long epoch)
    {
        Debug.Assert(epoch >= Epoch, "Epochs never go back.");
        return Empty with { Generation = Generation + 1, Epoch = epoch };
    }

    /// <summary>Attaches the timer that drives this value's schedule.</summary>
    internal AuthSnapshot<T> WithTimer(ITimer timer) => this with { Timer = timer };

    /// <summary>Checks the snapshot invariants (I-S1..I-S5 in <c>spec/concurrency-contract.md</c>); returns the first violation or <see langword="null"/>.</summary>
    public string? FindInvariantViolation()
    {
        if ((Value is null) != (Cached is null)) { return "I-S1: Value and Cached must be both set or both empty."; }
#pragma warning disable VSTHRD002 // Result is read only after IsCompletedSuccessfully.
        if (Cached is not null && (!Cached.IsCompletedSuccessfully || !ReferenceEquals(Cached.Result, Value))) { return "I-S1: Cached must be a completed task of Value."; }
#pragma warning restore VSTHRD002
        if (Fast is not null && !ReferenceEquals(Fast, Cached)) { return "I-S1: the fast path serves only the cached task."; }
        if (Pending is not null && Pending.Generation != Generation) { return "I-S2: the pending acquisition must belong to the current generation."; }
        if (Value is not null && ValueGeneration > Generation) { return "I-S3: a value cannot come from a future generation."; }
        if (RefreshAt is { } r && UsableUntil is { } u && r > u) { return "I-S4: refresh must start no later than expiry."; }
        if (Value is null && (UsableUntil is not null || RefreshAt is not null || Timer is not null)) { return "I-S5: no schedule without a value."; }
        return null;
    }

    /// <summary>DEBUG-only check run after every transition the coordinator publishes.</summary>
    [Conditional("DEBUG")]
    internal void AssertInvariants()
    {
        var violation = FindInvariantViolation();
        Debug.Assert(violation is null, violation);
    }

    /// <summary>Describes the state without the value (which may hold secrets).</summary>
    public override string ToString() =>
        $"AuthSnapshot {{ Generation = {Generation}, Epoch = {Epoch}, HasValue = {Value is not null}, Fresh = {IsFresh}, ValueGeneration = {ValueGeneration}, UsableUntil = {UsableUntil:O}, RefreshAt = {RefreshAt:O}, Acquiring = {IsAcquiring} }}";

    internal static (DateTimeOffset? UsableUntil, DateTimeOffset? RefreshAt) Schedule(DateTimeOffset? expiresAt, DateTimeOffset now, AuthCoordinatorOptions options)
    {
        if (expiresAt is not { } expires)
        {
            return (null, null);
        }

        var lifetime = expires - now;
        if (lifetime <= TimeSpan.Zero)
        {
            return (now, null);
        }

        var skew = Min(options.SkewMargin, lifetime * options.MaxSkewFraction);
        var ahead = Min(options.RefreshAheadWindow, lifetime * options.MaxRefreshAheadFraction);
        var usableUntil = expires - skew;
        var refreshAt = expires - ahead;
        return (usableUntil, refreshAt < usableUntil ? refreshAt : usableUntil);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static DateTimeOffset? Min(DateTimeOffset a, DateTimeOffset? b) => b is { } bb && bb < a ? bb : a;
}
