namespace LockFree.Cli.Embedded;

/// <summary>An access token the authorization server issued: when, until when, and whether it was revoked.</summary>
internal sealed record IssuedToken(DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt, bool Revoked);
