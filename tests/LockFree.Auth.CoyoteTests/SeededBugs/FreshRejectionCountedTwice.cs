namespace LockFree.Auth.CoyoteTests.SeededBugs;

/// <summary>
/// Seeded bug "R1 count without CAS": a copy of <c>RejectionPolicy.TryCountFreshRejection</c> whose checks ("already
/// counted", "within the back-off") are made on one read of the provider's state and whose count is written by a second,
/// separate read-modify-write instead of a compare-and-swap against the state it checked. Two concurrent rejections of
/// one never-accepted token both pass the checks and both count it. Installed through the internal hook
/// <see cref="RejectionPolicy.SeededBugFreshRejectionCount"/> (null in every product path).
/// </summary>
internal static class FreshRejectionCountedTwice
{
    public static bool TryCount(AuthCell<ProviderState> cell, TokenEntry rejected, TimeProvider time)
    {
        var state = cell.Current;
        if (ReferenceEquals(state.LastFreshRejection, rejected))
        {
            return true;
        }

        var now = time.GetUtcNow();
        if (state.FreshRejections > 0 && now < state.RetryFreshRejectionAt)
        {
            return false;
        }

        // SEEDED BUG: the count is incremented on whatever state is current now, not CAS'd against `state` checked above.
        cell.Update(
            static (s, arg) => s with
            {
                FreshRejections = s.FreshRejections + 1,
                LastFreshRejection = arg.Rejected,
                RetryFreshRejectionAt = arg.Now + RejectionPolicy.RejectionBackoff(s.FreshRejections + 2),
            },
            (Rejected: rejected, Now: now));
        return true;
    }
}

/// <summary>
/// Seeded bug "R1 without the already-counted check": a copy of <c>RejectionPolicy.TryCountFreshRejection</c> (with its
/// CAS) that does not recognize a token it already counted. The second of concurrent rejections of one never-accepted
/// token is taken for the next consecutive fresh rejection and refused within the back-off: its request returns the
/// 401 instead of joining the exchange the first rejection started.
/// </summary>
internal static class FreshRejectionAlreadyCountedCheckSkipped
{
    public static bool TryCount(AuthCell<ProviderState> cell, TokenEntry rejected, TimeProvider time)
    {
        while (true)
        {
            var state = cell.Current;

            // SEEDED BUG: no `if (ReferenceEquals(state.LastFreshRejection, rejected)) return true;` here.
            var now = time.GetUtcNow();
            if (state.FreshRejections > 0 && now < state.RetryFreshRejectionAt)
            {
                return false;
            }

            var count = state.FreshRejections + 1;
            var next = state with { FreshRejections = count, LastFreshRejection = rejected, RetryFreshRejectionAt = now + RejectionPolicy.RejectionBackoff(count + 1) };
            if (cell.TryReplace(state, next))
            {
                return true;
            }
        }
    }
}
