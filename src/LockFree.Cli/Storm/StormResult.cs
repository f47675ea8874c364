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

/// <summary>The sign-in of <c>lockfree login</c>.</summary>
/// <param name="Seconds">From the start of the sign-in to the token (includes the user's time in the browser).</param>
/// <param name="Scope">The granted scope.</param>
/// <param name="RefreshToken">Whether a refresh token came with it (every later token is refreshed with it).</param>
/// <param name="LoginPages">Login pages the embedded server served (browser navigations to the authorization endpoint).</param>
/// <param name="CodeExchanges">Authorization codes exchanged at the token endpoint.</param>
/// <param name="RefreshExchanges">Refresh-token grants during the run.</param>
internal sealed record LoginStats(double Seconds, string Scope, bool RefreshToken, long LoginPages, long CodeExchanges, long RefreshExchanges);

internal sealed record RequestStats(long Total, long Succeeded, long Failed, double PerSecond);

/// <summary>401 responses of the protected resource. The breakdown is known only with the embedded server.</summary>
internal sealed record UnauthorizedStats(long Total, long? Challenges, long? Revoked, long? Expired, long? Unknown);

/// <summary>Token exchanges against the ideal.</summary>
internal sealed record ExchangeStats
{
    /// <summary>Access tokens obtained (client credentials or JWT-bearer grants) during the storm.</summary>
    public required long Total { get; init; }

    /// <summary>The fewest exchanges a correct client makes (see <see cref="IdealExchanges"/>); null when unknown.</summary>
    public required long? Ideal { get; init; }

    public required long IdealInitial { get; init; }

    public required long IdealRefreshes { get; init; }

    public required long IdealRevocations { get; init; }

    /// <summary>Lifetime of the tokens (<c>expires_in</c>).</summary>
    public required double? TokenLifetimeSeconds { get; init; }

    /// <summary>Token lifetimes elapsed from the first exchange to the end of the run.</summary>
    public double? LifetimesElapsed { get; init; }

    /// <summary>How long each token is used before refresh-ahead replaces it.</summary>
    public required double? RefreshIntervalSeconds { get; init; }

    /// <summary>Server-side revocations during the storm (embedded) or rejections of the current token seen by the core (external).</summary>
    public required long Revocations { get; init; }

    /// <summary>Cross-app access: RFC 8693 exchanges at the IdP (ID token → ID-JAG).</summary>
    public long? IdpTokenExchanges { get; init; }

    /// <summary>Cross-app access: how often the application was asked for the ID token.</summary>
    public long? IdTokenCallbacks { get; init; }

    /// <summary>Embedded server: why each access token was issued (refresh-ahead, lapsed, after revocation).</summary>
    public Embedded.IssueReasons? Reasons { get; init; }

    /// <summary>Token requests per grant type, as seen on the provider's back channel.</summary>
    public required IReadOnlyDictionary<string, long> ByGrantType { get; init; }

    public bool WithinIdeal => Ideal is { } ideal && Total <= ideal && (IdpTokenExchanges ?? 0) <= ideal;
}

/// <summary>Sums of the <c>LockFree.Auth</c> meter's counters over the run.</summary>
internal sealed record MeterStats(
    long AcquisitionsStarted,
    long CallersCoalesced,
    long Invalidations,
    long AcquisitionFailures,
    long Discarded,
    IReadOnlyDictionary<string, long> AcquisitionsByCoordinator);

internal sealed record LatencyStats(double P50, double P99, double Max, double Mean);

internal sealed record ErrorCount(string Kind, long Count);
