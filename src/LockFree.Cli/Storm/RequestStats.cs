namespace LockFree.Cli.Storm;

internal sealed record RequestStats(long Total, long Succeeded, long Failed, double PerSecond);
