namespace LockFree.Auth.CoyoteTests.SeededBugs;

/// <summary>
/// Seeded bug "CAS replaced by Volatile.Read + Volatile.Write": the real <see cref="AuthCell{TState}"/> with its
/// compare-and-swap split into a check and a write. Another writer can slip in between, and both "win".
/// Used with the real <see cref="AuthCoordinator{T}"/> through its internal constructor that takes the cell.
/// </summary>
internal sealed class NonAtomicCasCell<TState>(TState initial) : AuthCell<TState>(initial) where TState : class
{
    private protected override bool TryReplaceCore(TState expected, TState next)
    {
        // SEEDED BUG: check-then-write instead of Interlocked.CompareExchange.
        if (!ReferenceEquals(Current, expected))
        {
            return false;
        }

        WriteUnconditionally(next);
        return true;
    }
}
