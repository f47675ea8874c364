namespace LockFree.Auth.OAuth;

/// <summary>Stores the tokens of a <see cref="ClientOAuthProvider"/> (same shape as the MCP C# SDK's cache, so existing caches plug in).</summary>
/// <remarks>
/// <para>
/// A later, optional versioned extension (compare-and-set on a version) can let several processes share one
/// rotating refresh token; this interface stays as it is.
/// </para>
/// <para>
/// Concurrency: the provider calls <see cref="GetTokensAsync"/> at most once (coalesced, before the first request
/// is sent) and <see cref="StoreTokensAsync"/> once per exchange, from whatever thread completed the exchange;
/// exchanges of different scope sets may store concurrently, so implementations must be safe for concurrent calls.
/// </para>
/// </remarks>
public interface ITokenCache
{
    /// <summary>Stores <paramref name="tokens"/> (they contain secrets).</summary>
    ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct);

    /// <summary>Returns the stored tokens, or <see langword="null"/>.</summary>
    ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct);
}
