namespace LockFree.Cli.Embedded;

/// <summary>
/// What a refresh token stands for; refresh tokens rotate, so each is used once. <paramref name="Family"/> is the chain
/// it belongs to (from the grant that started it): a reused token revokes its whole family.
/// </summary>
internal sealed record RefreshGrant(string ClientId, string Scope, string User, string Family);
