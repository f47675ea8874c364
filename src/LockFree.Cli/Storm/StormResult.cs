namespace LockFree.Cli.Storm;

/// <summary>What a storm measured. Serialized as is by <c>--json</c> (camelCase).</summary>
internal sealed record StormResult
{
    /// <summary>Version of this JSON shape; bumped on incompatible changes.</summary>
    public int SchemaVersion => 1;

    public required string Provider { get; init; }

    public required string ProviderDescription { get; init; }

    /// <summary><c>embedded</c> or <c>external</c>.</summary>
    public required string Mode { get; init; }

    public required string Resource { get; init; }

    public required int Clients { get; init; }

    public required double DurationSeconds { get; init; }

    public bool Interrupted { get; init; }

    /// <summary><c>lockfree login</c>: the browser sign-in before the storm; null for the other commands.</summary>
    public LoginStats? Login { get; init; }

    public required RequestStats Requests { get; init; }

    public required UnauthorizedStats Unauthorized { get; init; }

    public required ExchangeStats Exchanges { get; init; }

    public required MeterStats Meter { get; init; }

    public required LatencyStats LatencyMs { get; init; }

    public required IReadOnlyList<ErrorCount> Errors { get; init; }

    /// <summary>Why the run failed; empty when it passed.</summary>
    public required IReadOnlyList<string> Failures { get; init; }

    public bool Passed => Failures.Count == 0;
}
