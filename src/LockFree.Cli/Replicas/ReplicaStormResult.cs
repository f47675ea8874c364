namespace LockFree.Cli.Replicas;

/// <summary>What <c>lockfree storm --replicas N</c> measured. Serialized as is by <c>--json</c> (camelCase).</summary>
internal sealed record ReplicaStormResult
{
    public int SchemaVersion => 1;

    public string Mode => "replicas";

    public required int Replicas { get; init; }

    public required bool SharedStore { get; init; }

    public required int CallersPerReplica { get; init; }

    public required double DurationSeconds { get; init; }

    /// <summary>
    /// The token requests made before the replicas started: the one sign-in (a client-credentials grant) whose token set
    /// every replica starts from. Not counted in <see cref="Server"/> nor in the ideal.
    /// </summary>
    public int SeedExchanges => 1;

    /// <summary>From the replicas' first exchange (the refresh of the seed) to the exit of the last replica: the window of the ideal.</summary>
    public required double WindowSeconds { get; init; }

    public required double TokenLifetimeSeconds { get; init; }

    public required double RefreshIntervalSeconds { get; init; }

    public bool Interrupted { get; init; }

    /// <summary>One entry per replica process (in order), as it reported itself.</summary>
    public required IReadOnlyList<ReplicaOutcome> PerReplica { get; init; }

    /// <summary>Sums over the replicas' own reports.</summary>
    public required ReplicaTotals Total { get; init; }

    /// <summary>What the embedded authorization server counted.</summary>
    public required ReplicaServerStats Server { get; init; }

    /// <summary>The ideal exchange count of ONE client over the window (spec/storm.md, "The ideal exchange count").</summary>
    public required long IdealOneClient { get; init; }

    public bool WithinIdeal => Server.Exchanges <= IdealOneClient;

    public required IReadOnlyList<string> Failures { get; init; }

    public bool Passed => Failures.Count == 0;
}

/// <summary>One replica process: its exit code and its report (null when it printed none).</summary>
internal sealed record ReplicaOutcome(int Replica, int ExitCode, ReplicaReport? Report, string? Error);

internal sealed record ReplicaTotals(long Calls, long Failed, long Exchanges, long InvalidGrant);

/// <summary>The server's counts after the seed: exchanges = client-credentials grants + refresh grants; rejected = every OAuth error it answered.</summary>
internal sealed record ReplicaServerStats(long ClientCredentials, long Refreshes, long Exchanges, long Rejected, long RefreshReuses);
