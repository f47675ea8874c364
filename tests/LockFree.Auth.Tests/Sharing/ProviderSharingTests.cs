using System.Net;
using LockFree.Auth.CrossAppAccess;
using LockFree.Auth.OAuth;
using LockFree.Auth.Testing.OAuth;
using LockFree.Auth.Testing.Sharing;
using LockFree.Auth.Tests.CrossAppAccess;

namespace LockFree.Auth.Tests.Sharing;

/// <summary>
/// Both providers with <c>SharedTokens</c> over an <see cref="InMemorySharedTokenStore"/> (no Redis): the provider code
/// of the sharing paths (the 401 retirement of the shared record, the cross-app adoption and its invalidation, the record
/// key namespaces) run in the unit suite, so the providers' mutation run covers them (spec/mutation-testing.md, "Gaps:
/// sharing paths"). The Redis suite runs the same protocol against a real server (R15, R16).
/// </summary>
public sealed class ProviderSharingTests
{
    // A background invalidation is one in-memory store operation; a missing one fails the test here, not at the suite's bound.
    private static readonly TimeSpan InvalidationBound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task OAuth_401ForT_RetiresTheSharedRecord_AColdReplicaThenNeverAdoptsT_ALate401RetiresNothing()
    {
        // R15 in process: A's 401 for T retires the shared record (it holds T), so a replica starting cold while A's
        // retry is in flight does not adopt the revoked T but waits for A's T2; B's late 401 for T finds T2 there and
        // retires nothing. Two token requests in all. The records live under "oauth:" (spec/distributed.md, Keys).
        var time = TimeProvider.System;
        using var server = new FakeMcpAuthServer(time) { IssueRefreshTokensForClientCredentials = true };
        server.Clients["m2m"] = "pw";
        using var backChannel = server.CreateClient();
        var store = new ObservedSharedStore(new InMemorySharedTokenStore(time));
        ClientOAuthProvider Replica() => new(new Uri(FakeMcpAuthServer.ResourceUrl), new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = "m2m",
            ClientSecret = "pw",
            SharedTokens = new TokenSharing(store, "m2m", new SharedTokenOptions { StorePlainText = true }),
        }, backChannel, null, time);
        using var a = Replica();
        using var b = Replica();
        using var clientA = new HttpClient(new ClientOAuthHandler(a, server), disposeHandler: false);
        using var clientB = new HttpClient(new ClientOAuthHandler(b, server), disposeHandler: false);
        await AssertOkAsync(clientA);
        await AssertOkAsync(clientB);
        var t = await a.GetTokensAsync().Within();
        Assert.Equal(t.AccessToken, (await b.GetTokensAsync().Within()).AccessToken);
        Assert.Equal(1, server.TokenRequests);
        server.Revoke(t.AccessToken);

        // A's retry is held at the token endpoint (A then holds the lease), so the order is fixed: the retirement
        // meets the record while it still holds T.
        var gate = server.HoldTokenEndpoint();
        var retry = clientA.GetAsync(FakeMcpAuthServer.ResourceUrl);
        Assert.True(await store.NextInvalidationAsync().Within(InvalidationBound), "A's 401 for T must retire the shared record, which still holds T");
        await WaitUntilAsync(() => server.TokenArrivals >= 1);
        using var c = Replica();
        var onC = c.GetTokensAsync();
        gate.SetResult();
        using (var retried = await retry.Within())
        {
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        }

        var t2 = await a.GetTokensAsync().Within();
        Assert.NotEqual(t.AccessToken, t2.AccessToken);
        Assert.Equal(t2.AccessToken, (await onC.Within()).AccessToken); // the cold replica never served the revoked T

        await AssertOkAsync(clientB); // B still held T: 401, retry
        Assert.False(await store.NextInvalidationAsync().Within(InvalidationBound), "the record holds T2: B's late 401 for T must retire nothing");
        Assert.Equal(t2.AccessToken, (await b.GetTokensAsync().Within()).AccessToken);
        Assert.Equal(2, server.TokenRequests); // the grant and A's one refresh: B and C adopted

        Assert.NotEmpty(store.Keys);
        Assert.All(store.Keys.Keys, k => Assert.StartsWith("oauth:", k, StringComparison.Ordinal));
    }

    [Fact]
    public async Task CrossApp_AdoptedToken_IsServedWithoutAnExchange_PinsTheReplica_AndInvalidateCacheRetiresTheSharedRecord()
    {
        // R16 in process, then the adopted token's life: B adopts A's token (no callback, no IdP or AS request of its
        // own); the adoption pins B to that authorization server (T3), so another one is refused; B's
        // InvalidateCache(token) retires it (the adopted token is indexed like an exchanged one) and the shared record
        // with it, so a replica starting cold exchanges a new token instead of adopting the rejected one.
        var fx = new CrossAppFixture();
        var store = new ObservedSharedStore(new InMemorySharedTokenStore(fx.Time));
        var sharing = new TokenSharing(store, "alice", new SharedTokenOptions { StorePlainText = true });
        using var a = fx.CreateProvider(o => o.SharedTokens = sharing);
        using var b = fx.CreateProvider(o => o.SharedTokens = sharing);

        var t = await a.GetAccessTokenAsync(fx.ResourceUri, fx.AsUri).Within();
        var adopted = await b.GetAccessTokenAsync(fx.ResourceUri, fx.AsUri).Within();

        Assert.Equal(t.AccessToken, adopted.AccessToken);
        Assert.Equal(1, fx.Callbacks);
        Assert.Equal(1, fx.Idp.TokenRequests);
        Assert.Equal(1, fx.As.TokenRequests);
        Assert.NotEmpty(store.Keys);
        Assert.All(store.Keys.Keys, k => Assert.StartsWith("cross-app:", k, StringComparison.Ordinal));

        var refused = await Assert.ThrowsAsync<CrossApplicationAccessException>(
            () => b.GetAccessTokenAsync(fx.ResourceUri, new Uri("https://other-as.example.com"))).Within();
        Assert.Equal(OAuthFailureReason.UntrustedAuthorizationServer, refused.Reason);

        Assert.True(b.InvalidateCache(adopted.AccessToken), "the adopted token is cached on B, so B can retire it");
        Assert.True(await store.NextInvalidationAsync().Within(InvalidationBound), "B's InvalidateCache(T) must retire the shared record, which still holds T");
        using var c = fx.CreateProvider(o => o.SharedTokens = sharing);
        var fresh = await c.GetAccessTokenAsync(fx.ResourceUri, fx.AsUri).Within();
        Assert.NotEqual(t.AccessToken, fresh.AccessToken);
        Assert.Equal(2, fx.As.TokenRequests);
        Assert.NotEqual(t.AccessToken, (await b.GetAccessTokenAsync(fx.ResourceUri, fx.AsUri).Within()).AccessToken);
    }

    [Fact]
    public async Task CrossApp_SharedRecordNamingAnotherIssuer_IsNotAdopted_TheReplicaExchangesItsOwn()
    {
        // T5 at adoption: a record for this key whose token set names another issuer (written by a misconfigured or
        // hostile replica holding the key) is never served; the cold replica exchanges with its own (pinned) server and
        // the fence replaces the record.
        var fx = new CrossAppFixture();
        var inner = new InMemorySharedTokenStore(fx.Time);
        var store = new ObservedSharedStore(inner);
        var sharing = new TokenSharing(store, "alice", new SharedTokenOptions { StorePlainText = true });
        using var a = fx.CreateProvider(o => o.SharedTokens = sharing);
        await a.GetAccessTokenAsync(fx.ResourceUri, fx.AsUri).Within();
        var key = Assert.Single(store.Keys.Keys);
        var forged = new TokenContainer
        {
            AccessToken = "forged-access-token",
            Issuer = "https://evil.example.com",
            ObtainedAt = fx.Time.GetUtcNow(),
            ExpiresIn = TimeSpan.FromHours(1),
        };
        var lease = await inner.TryAcquireLeaseAsync(key, 1, "forger", TimeSpan.FromSeconds(30), default);
        Assert.Equal(SharedLeaseStatus.Granted, lease.Status);
        Assert.True((await inner.PublishAsync(key, lease, new SharedTokenValue(SharedTokenPayload.Serialize(forged), SharedTokenPayload.Fingerprint(forged.AccessToken), forged.ExpiresAt), default)).IsPublished);

        using var b = fx.CreateProvider(o => o.SharedTokens = sharing);
        var onB = await b.GetAccessTokenAsync(fx.ResourceUri, fx.AsUri).Within();

        Assert.NotEqual(forged.AccessToken, onB.AccessToken);
        Assert.Equal(2, fx.As.TokenRequests);
        Assert.Equal(3, (await inner.ReadAsync(key, default))!.Version); // B's own token replaced the forged record
    }

    private static async Task AssertOkAsync(HttpClient client)
    {
        using var response = await client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        // Bounded: the condition is an arrival at the held token endpoint, which the test's own request causes.
        await Task.Run(async () =>
        {
            while (!condition())
            {
                await Task.Delay(5);
            }
        }).Within();
    }
}
