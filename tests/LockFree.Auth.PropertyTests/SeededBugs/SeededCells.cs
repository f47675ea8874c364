namespace LockFree.Auth.PropertyTests.SeededBugs;

/// <summary>
/// Seeded bugs, in this test project only: cells that break the compare-and-swap contract of
/// <see cref="AuthCell{TState}"/> through its test seam. Each is plugged into a real coordinator with its internal
/// constructor; <see cref="SeededBugTests"/> asserts that the properties catch every one.
/// </summary>
internal static class SeededCells
{
    /// <summary>The product's cell (the control: the properties must pass with it).</summary>
    public static AuthCell<AuthSnapshot<TokenContainer>> Correct() => new(AuthSnapshot<TokenContainer>.Empty);

    /// <summary>
    /// "CAS replaced by Volatile.Read + Volatile.Write": the writer read the state with <c>Current</c> (a volatile
    /// read) and now publishes with a plain volatile write, whatever happened in between. Two cold callers that
    /// both read the empty state both install an acquisition; a publish can overwrite a concurrent invalidation.
    /// </summary>
    public static AuthCell<AuthSnapshot<TokenContainer>> VolatileWrite() => new VolatileWriteCell(preempt: false);

    /// <summary>
    /// <see cref="VolatileWrite"/> with the writer preempted (<see cref="Thread.Yield"/>) between its read and its
    /// write: the same bug, with the window a real scheduler opens now and then made likely on every write.
    /// </summary>
    public static AuthCell<AuthSnapshot<TokenContainer>> VolatileWritePreempted() => new VolatileWriteCell(preempt: true);

    /// <summary>
    /// The same bug with the compare kept: re-read, compare, then write (check-then-act). The window is only the
    /// few instructions between the compare and the write.
    /// </summary>
    public static AuthCell<AuthSnapshot<TokenContainer>> CheckThenWrite() => new CheckThenWriteCell(preempt: false);

    /// <summary><see cref="CheckThenWrite"/> with the writer preempted between its compare and its write.</summary>
    public static AuthCell<AuthSnapshot<TokenContainer>> CheckThenWritePreempted() => new CheckThenWriteCell(preempt: true);

    /// <summary>
    /// Lost invalidation: <c>Invalidate()</c> clears the cached value but does not open a new generation when an
    /// acquisition is in flight (the classic "clear the cache" implementation), so the in-flight result, obtained
    /// for the invalidated state, is published afterwards.
    /// </summary>
    public static AuthCell<AuthSnapshot<TokenContainer>> LostInvalidation() => new LostInvalidationCell();

    /// <summary>
    /// A concurrent lost invalidation: only the publish of a result is a plain write (preempted between the
    /// acquisition's read of the state and its write), so an <c>Invalidate()</c> that lands in between is overwritten
    /// by the result it was meant to discard.
    /// </summary>
    public static AuthCell<AuthSnapshot<TokenContainer>> PublishOverwritesInvalidation() => new PublishOverwritesInvalidationCell();

    private sealed class PublishOverwritesInvalidationCell() : AuthCell<AuthSnapshot<TokenContainer>>(AuthSnapshot<TokenContainer>.Empty)
    {
        private protected override bool TryReplaceCore(AuthSnapshot<TokenContainer> expected, AuthSnapshot<TokenContainer> next)
        {
            // WithPublished is the only transition that removes the pending acquisition in the same generation and
            // leaves a value or a retired value behind.
            var isPublish = expected.Pending is not null && next.Pending is null && next.Generation == expected.Generation
                && (next.Value is not null || !ReferenceEquals(next.Retired, expected.Retired));
            if (!isPublish)
            {
                return base.TryReplaceCore(expected, next);
            }

            Thread.Yield();
            WriteUnconditionally(next);
            return true;
        }
    }

    private sealed class VolatileWriteCell(bool preempt) : AuthCell<AuthSnapshot<TokenContainer>>(AuthSnapshot<TokenContainer>.Empty)
    {
        private protected override bool TryReplaceCore(AuthSnapshot<TokenContainer> expected, AuthSnapshot<TokenContainer> next)
        {
            if (preempt)
            {
                Thread.Yield();
            }

            WriteUnconditionally(next);
            return true;
        }
    }

    private sealed class CheckThenWriteCell(bool preempt) : AuthCell<AuthSnapshot<TokenContainer>>(AuthSnapshot<TokenContainer>.Empty)
    {
        private protected override bool TryReplaceCore(AuthSnapshot<TokenContainer> expected, AuthSnapshot<TokenContainer> next)
        {
            if (!ReferenceEquals(Current, expected))
            {
                return false;
            }

            if (preempt)
            {
                Thread.Yield();
            }

            WriteUnconditionally(next);
            return true;
        }
    }

    private sealed class LostInvalidationCell() : AuthCell<AuthSnapshot<TokenContainer>>(AuthSnapshot<TokenContainer>.Empty)
    {
        private protected override bool TryReplaceCore(AuthSnapshot<TokenContainer> expected, AuthSnapshot<TokenContainer> next)
        {
            // WithInvalidated is the only transition that opens a generation without installing an acquisition.
            var isInvalidation = next.Generation == expected.Generation + 1 && next.Pending is null;
            return isInvalidation && expected.Pending is not null
                ? base.TryReplaceCore(expected, expected.WithRetired())
                : base.TryReplaceCore(expected, next);
        }
    }
}
