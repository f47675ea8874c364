namespace LockFree.Cli.Storm;

/// <summary>401 responses of the protected resource. The breakdown is known only with the embedded server.</summary>
internal sealed record UnauthorizedStats(long Total, long? Challenges, long? Revoked, long? Expired, long? Unknown);
