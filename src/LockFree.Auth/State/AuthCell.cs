namespace LockFree.Auth;

/// <summary>
/// Owns the single mutable reference to an immutable state and changes it only with
/// <see cref="Interlocked.CompareExchange{T}(ref T, T, T)"/>.
/// </summary>
/// <typeparam name="TState">An immutable state type.</typeparam>
/// <remarks>
/// <para>
/// Readers call <see cref="Current"/> once and work on the local they got. Writers either call
/// <see cref="TryReplace"/> with the state they read (and re-read on failure), or <see cref="Update{TArg}"/> with a
/// transform that is free of side effects because it may run more than once.
/// </para>
/// <para>
/// Concurrency: lock-free. Every successful replacement is a linearization point; a failed one means another
/// writer succeeded, so some writer always makes progress.
/// </para>
/// </remarks>
internal class AuthCell<TState> where TState : class
{
    // The only mutable field. Written only by Interlocked.CompareExchange (a full fence), read by Volatile.Read
    // (acquire): a reader that sees a reference also sees every field of the immutable state it points to,
    // because those fields were written before the publishing CAS.
    private TState _current;

    /// <summary>Creates a cell holding <paramref name="initial"/>.</summary>
    public AuthCell(TState initial)
    {
        ArgumentNullException.ThrowIfNull(initial);
        _current = initial;
    }

    /// <summary>The current state (one acquire read). Read it once and work on the local.</summary>
    public TState Current => Volatile.Read(ref _current);

    /// <summary>Replaces <paramref name="expected"/> with <paramref name="next"/> if it is still current; returns whether it did.</summary>
    public bool TryReplace(TState expected, TState next) => TryReplaceCore(expected, next);

    /// <summary>
    /// Applies <paramref name="transform"/> to the current state until the result is published by a successful
    /// compare-and-swap. The transform must be free of side effects: it may run more than once.
    /// </summary>
    /// <returns>The state that was replaced and the state that replaced it.</returns>
    public (TState Before, TState After) Update<TArg>(Func<TState, TArg, TState> transform, TArg argument)
    {
        ArgumentNullException.ThrowIfNull(transform);
        while (true)
        {
            var before = Current;
            var after = transform(before, argument);
            if (ReferenceEquals(before, after) || TryReplaceCore(before, after))
            {
                return (before, after);
            }
        }
    }

    /// <summary>The compare-and-swap itself. Only tests override it (seeded bugs); products never do.</summary>
    private protected virtual bool TryReplaceCore(TState expected, TState next) =>
        ReferenceEquals(Interlocked.CompareExchange(ref _current, next, expected), expected);

    /// <summary>For seeded-bug variants in the test projects: an unconditional write.</summary>
    private protected void WriteUnconditionally(TState next) => Volatile.Write(ref _current, next);
}
