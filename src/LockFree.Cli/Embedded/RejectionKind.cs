namespace LockFree.Cli.Embedded;

/// <summary>Why the protected resource answered 401.</summary>
internal enum RejectionKind
{
    /// <summary>No bearer token: the challenge that starts discovery.</summary>
    Challenge,

    /// <summary>The token was revoked by the server.</summary>
    Revoked,

    /// <summary>The token had expired when it arrived.</summary>
    Expired,

    /// <summary>A token the server never issued.</summary>
    Unknown,
}
