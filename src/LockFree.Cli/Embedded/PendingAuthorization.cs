namespace LockFree.Cli.Embedded;

/// <summary>An authorization request shown on the login page, waiting for the user's Allow or Deny.</summary>
internal sealed record PendingAuthorization(
    string RequestId, RegisteredClient Client, string RedirectUri, string? State, string CodeChallenge, string[] Scopes, string? Resource, DateTimeOffset CreatedAt);
