namespace LockFree.Cli.Embedded;

/// <summary>An authorization code, bound to its client, redirect URI and PKCE challenge; used once.</summary>
internal sealed record IssuedCode(string ClientId, string RedirectUri, string CodeChallenge, string Scope, string User, DateTimeOffset ExpiresAt);
