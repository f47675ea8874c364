namespace LockFree.Cli.Replicas;

/// <summary>
/// What one replica process measured (<c>lockfree replica</c> prints it as one JSON line): token calls, the failed
/// ones, and the token requests it sent itself (exchanges that got a token, and <c>invalid_grant</c> answers).
/// </summary>
internal sealed record ReplicaReport
{
    public int Replica { get; init; }

    public bool Shared { get; init; }

    public long Calls { get; init; }

    public long Failed { get; init; }

    public long Exchanges { get; init; }

    public long InvalidGrant { get; init; }

    public int DistinctTokens { get; init; }

    public string? FirstError { get; init; }
}
