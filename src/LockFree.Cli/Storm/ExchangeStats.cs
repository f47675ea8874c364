namespace LockFree.Cli.Storm;

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
