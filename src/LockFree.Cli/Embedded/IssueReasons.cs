namespace LockFree.Cli.Embedded;

/// <summary>Why each access token was issued.</summary>
/// <param name="Initial">The first token (or the first after the server lost track of the previous one).</param>
/// <param name="Ahead">A refresh while the previous token was still usable: refresh-ahead, no caller had to wait.</param>
/// <param name="Lapsed">A replacement after the previous token was no longer usable (expiry minus skew): callers waited.</param>
/// <param name="AfterRevocation">A replacement of a revoked token.</param>
/// <param name="Redundant">A new token while the previous one was not yet due for refresh: a wasted exchange.</param>
internal sealed record IssueReasons(long Initial, long Ahead, long Lapsed, long AfterRevocation, long Redundant);
