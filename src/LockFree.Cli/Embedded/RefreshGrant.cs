namespace LockFree.Cli.Embedded;

/// <summary>What a refresh token stands for; refresh tokens rotate, so each is used once.</summary>
internal sealed record RefreshGrant(string ClientId, string Scope, string User);
