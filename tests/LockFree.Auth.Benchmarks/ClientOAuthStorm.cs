namespace LockFree.Auth.Benchmarks;

/// <summary>
/// The ClientOAuth refresh storm: N concurrent requests through <c>ClientOAuthHandler</c> on an expired token.
/// Only our side: 2.4.0's <c>ClientOAuthProvider</c> is not a public <c>DelegatingHandler</c> (it runs inside the
/// SDK's MCP transport), so it cannot be driven with plain HTTP requests in this process.
/// </summary>
internal static class ClientOAuthStorm
{
    public static bool IsAvailable =>
#if HAS_CLIENTOAUTH
        true;
#else
        false;
#endif

    public static Task WarmUpAsync(Side side) =>
        IsAvailable && side == Side.Ours ? Task.CompletedTask : throw new NotSupportedException("ClientOAuth storm: ours only, once ClientOAuthHandler exists.");

    public static Task<StormResult> RefreshStormAsync(Side side, TimeSpan hop, int n) =>
        throw new NotSupportedException($"ClientOAuth storm not available ({side}, {hop}, {n}).");
}
