namespace LockFree.Cli.Storm;

internal sealed record ErrorCount(string Kind, long Count);
