using LockFree.Auth.Diagnostics;
using Microsoft.Extensions.Logging;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// The provider's side of an <see cref="ITokenCache"/>: the cached tokens are read once (and shared by every caller),
/// tokens of an issuer the provider may not use are ignored (T4), and failures of the cache are logged, never thrown.
/// </summary>
/// <remarks>Concurrency: the one read is an <see cref="AuthCoordinator{T}"/> that coalesces every caller; stores may run concurrently (the cache's own concern).</remarks>
internal sealed class TokenCacheStore : IDisposable
{
    private readonly ITokenCache _cache;
    private readonly IssuerTrust _trust;
    private readonly Uri _serverUrl;
    private readonly ILogger _logger;
    private readonly AuthCoordinator<RestoredTokens> _restore;

    private TokenCacheStore(ITokenCache cache, IssuerTrust trust, Uri serverUrl, TimeProvider time, ILogger logger, AuthInstruments instruments)
    {
        _cache = cache;
        _trust = trust;
        _serverUrl = serverUrl;
        _logger = logger;
        _restore = new AuthCoordinator<RestoredTokens>((_, ct) => ReadAsync(ct), null, time, new AuthCoordinatorOptions { Name = "oauth.token-cache", Instruments = instruments });
    }

    /// <summary>The store over <paramref name="cache"/>, or null when no cache is configured.</summary>
    internal static TokenCacheStore? Create(ITokenCache? cache, IssuerTrust trust, Uri serverUrl, TimeProvider time, ILogger logger, AuthInstruments instruments) =>
        cache is null ? null : new TokenCacheStore(cache, trust, serverUrl, time, logger, instruments);

    /// <summary>The cached tokens (null: none, of an issuer not to be used, or the read failed), read once for every caller.</summary>
    internal async Task<TokenContainer?> RestoreAsync(CancellationToken cancellationToken) =>
        (await _restore.GetAsync(cancellationToken).ConfigureAwait(false)).Tokens;

    /// <summary>Stores <paramref name="tokens"/>; a failure is logged and the tokens are used anyway.</summary>
    internal async Task StoreAsync(TokenContainer tokens, CancellationToken cancellationToken)
    {
        try
        {
            await _cache.StoreTokensAsync(tokens, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.ClientOAuth.CacheStoreFailed(_logger, ex.GetType());
        }
    }

    /// <inheritdoc />
    public void Dispose() => _restore.Dispose();

    private async Task<RestoredTokens> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            var restored = await _cache.GetTokensAsync(cancellationToken).ConfigureAwait(false);
            if (restored?.Issuer is { } issuer)
            {
                // T4: tokens of an issuer this provider may not use are ignored; otherwise that issuer is the pinned one.
                if (OAuthEndpoint.TryParseAbsolute(issuer) is not { } issuerUri || !_trust.Pin(issuerUri))
                {
                    Log.ClientOAuth.RestoredTokensIgnored(_logger, OAuthEndpoint.TryParseAbsolute(issuer) ?? _serverUrl);
                    return new RestoredTokens(null);
                }
            }

            return new RestoredTokens(restored);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.ClientOAuth.CacheReadFailed(_logger, ex.GetType());
            return new RestoredTokens(null);
        }
    }

    /// <summary>The cache's tokens as one coordinator value (a reference type, so "none" can be cached too).</summary>
    private sealed record RestoredTokens(TokenContainer? Tokens);
}
