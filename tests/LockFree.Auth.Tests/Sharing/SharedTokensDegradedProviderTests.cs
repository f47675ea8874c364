using LockFree.Auth.OAuth;
using LockFree.Auth.Testing.OAuth;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.Sharing;

/// <summary>
/// R29 through <see cref="ClientOAuthProvider"/>: with <c>SharedTokens</c> on, a token set restored from an
/// <see cref="ITokenCache"/> may have come from the shared store (a replica restarted during an outage restores what it
/// last adopted), so while the store is down its refresh token is not presented: the configured grant is used.
/// </summary>
public sealed class SharedTokensDegradedProviderTests
{
    private const string CachedRefreshToken = "rt-cached";

    [Fact]
    public async Task StoreDown_ExpiringTokenRestoredFromTheCache_ItsRefreshTokenIsNotPresented_ClientCredentialsInstead()
    {
        var presented = await FirstExchangeAsync(storeDown: true);

        Assert.Equal("client_credentials", presented.GrantType);
        Assert.Null(presented.RefreshToken);
    }

    [Fact]
    public async Task StoreUp_NoRecord_TheRestoredTokenIsRefreshed_TheControlOfTheTestAbove()
    {
        // The same setting with the store up: no record, the lease at version 0, the provider's own previous value (the
        // restored token set) is refreshed. Shows that the test above reaches the refresh decision (issuer, expiry).
        var presented = await FirstExchangeAsync(storeDown: false);

        Assert.Equal("refresh_token", presented.GrantType);
        Assert.Equal(CachedRefreshToken, presented.RefreshToken);
    }

    private static async Task<(string? GrantType, string? RefreshToken)> FirstExchangeAsync(bool storeDown)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.Zero));
        using var server = new FakeMcpAuthServer(time) { IssueRefreshTokensForClientCredentials = true };
        server.Clients["m2m"] = "pw";
        using var backChannel = server.CreateClient();
        var cache = new Cache(new TokenContainer
        {
            AccessToken = "at-cached",
            RefreshToken = CachedRefreshToken,
            Issuer = server.Issuer,
            ObtainedAt = time.GetUtcNow() - TimeSpan.FromMinutes(59) - TimeSpan.FromSeconds(50), // 10 s left: refreshed, not served
            ExpiresIn = TimeSpan.FromHours(1),
        });
        var store = new OutageStore(new InMemorySharedTokenStore(time)) { Down = storeDown };
        using var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = "m2m",
            ClientSecret = "pw",
            TokenCache = cache,
            SharedTokens = new TokenSharing(store, "m2m", new SharedTokenOptions { StorePlainText = true }),
        }, backChannel, null, time);

        var tokens = await provider.GetTokensAsync().Within();

        Assert.NotEqual("at-cached", tokens.AccessToken);
        var first = server.TokenEndpointRequests[0].Form;
        return (first.GetValueOrDefault("grant_type"), first.GetValueOrDefault("refresh_token"));
    }

    private sealed class Cache(TokenContainer stored) : ITokenCache
    {
        public ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct) => ValueTask.CompletedTask;

        public ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct) => ValueTask.FromResult<TokenContainer?>(stored);
    }
}
