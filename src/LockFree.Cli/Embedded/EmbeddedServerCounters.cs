namespace LockFree.Cli.Embedded;

/// <summary>What the embedded servers counted.</summary>
internal readonly record struct EmbeddedServerCounters(
    long ClientCredentialsGrants,
    long JwtBearerGrants,
    long AuthorizationCodeGrants,
    long RefreshGrants,
    long TokenExchanges,
    long RejectedGrants,
    long ResourceOk,
    long Challenges,
    long RevokedRejections,
    long ExpiredRejections,
    long UnknownRejections,
    long Revocations,
    LoginCounters Login,
    IssueReasons IssueReasons)
{
    /// <summary>Access tokens issued by the authorization server.</summary>
    public long AccessTokensIssued => ClientCredentialsGrants + JwtBearerGrants + AuthorizationCodeGrants + RefreshGrants;

    /// <summary>All 401 responses of the protected resource.</summary>
    public long Unauthorized => Challenges + RevokedRejections + ExpiredRejections + UnknownRejections;
}
