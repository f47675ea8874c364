namespace LockFree.Cli.Storm;

internal sealed record LatencyStats(double P50, double P99, double Max, double Mean);
