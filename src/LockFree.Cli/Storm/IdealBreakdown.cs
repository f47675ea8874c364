namespace LockFree.Cli.Storm;

/// <summary>The ideal exchange count and where it comes from.</summary>
internal readonly record struct IdealBreakdown(long Initial, long Refreshes, long Revocations)
{
    public long Total => Initial + Refreshes + Revocations;
}
