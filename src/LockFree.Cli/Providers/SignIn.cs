namespace LockFree.Cli.Providers;

/// <summary>What an interactive sign-in obtained (no token values).</summary>
/// <param name="Scope">The granted scope.</param>
/// <param name="RefreshToken">Whether a refresh token came with it.</param>
internal sealed record SignIn(string Scope, bool RefreshToken);
