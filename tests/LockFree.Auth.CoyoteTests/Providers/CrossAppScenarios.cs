using LockFree.Auth.CoyoteTests.Harness;
using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Providers;

/// <summary>
/// Race scenarios of <see cref="CrossApplicationAccessProvider"/> (token exchange → ID-JAG → JWT-bearer) over
/// <see cref="CrossAppBackend"/>: concurrent cold callers, invalidation mid-exchange, a storm of conditional
/// invalidations of one rejected token, the first caller cancelled, and two first uses with different authorization
/// servers racing for the issuer pin (T3/T5).
/// </summary>
public static class CrossAppScenarios
{
    private static readonly Uri ResourceUrl = new("https://mcp.example/mcp");
    private static readonly Uri AuthorizationServerUrl = new(CrossAppBackend.Issuer);

    /// <summary>The provider over the in-memory back channel (no <see cref="HttpClient"/>); disposing it ends everything the scenario started.</summary>
    private sealed class Client : IAsyncDisposable
    {
        public Client(IssuerTrust? seededBugTrust = null)
        {
            Backend = new CrossAppBackend();
            BackChannel = new InMemoryBackChannel(Backend, Clock);
            Provider = CrossApplicationAccessProvider.OverBackChannel(
                new CrossApplicationAccessProviderOptions
                {
                    ClientId = "app",
                    ClientSecret = "secret",
                    IdpTokenEndpoint = CrossAppBackend.IdpTokenEndpoint,
                    IdpClientId = "idp-app",
                    IdpClientSecret = "idp-secret",
                    IdTokenCallback = static (_, _) => Task.FromResult("id-token"),
                },
                BackChannel,
                timeProvider: Clock,
                seededBugTrust: seededBugTrust);
        }

        public ControlledClock Clock { get; } = new();
        public CrossAppBackend Backend { get; }
        public InMemoryBackChannel BackChannel { get; }
        public CrossApplicationAccessProvider Provider { get; }

        public Task<TokenContainer> GetAsync(CancellationToken cancellationToken = default) =>
            Provider.GetAccessTokenAsync(ResourceUrl, AuthorizationServerUrl, cancellationToken);

        /// <summary>The end of every scenario: nothing it started outlives the iteration.</summary>
        public async ValueTask DisposeAsync()
        {
            Provider.Dispose();
            await Backend.DrainAsync();
        }
    }

    /// <summary>
    /// 3 concurrent cold requests through <see cref="CrossApplicationAccessHandler"/> (resource metadata discovery, then
    /// the provider): all 200 with one token exchange and one JWT-bearer grant.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task HandlerColdRequests()
    {
        await using var c = new Client();
        using var http = new HttpMessageInvoker(CrossApplicationAccessHandler.OverBackChannel(c.Provider, ResourceUrl, c.BackChannel, c.Backend), disposeHandler: true);
        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, ResourceUrl);
            using var response = await http.SendAsync(request, CancellationToken.None);
            return (response.StatusCode, Body: InMemoryBackChannel.ReadText(response.Content));
        })));
        foreach (var (status, body) in results)
        {
            Specification.Assert(status == System.Net.HttpStatusCode.OK, $"A cold request through the handler ended with {status}.");
            Specification.Assert(body == results[0].Body, $"Cold requests used different tokens: {body} vs {results[0].Body}.");
        }

        Specification.Assert(c.Backend.Exchanges == 1 && c.Backend.JwtGrants == 1, $"3 cold requests through the handler caused {c.Backend.Exchanges} token exchanges and {c.Backend.JwtGrants} JWT-bearer grants (expected 1 and 1).");
    }

    /// <summary>3 concurrent cold callers: one token exchange and one JWT-bearer grant, the same token for all.</summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task ColdCallers()
    {
        await using var c = new Client();
        var tokens = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => c.GetAsync())));
        foreach (var t in tokens)
        {
            Specification.Assert(ReferenceEquals(t, tokens[0]), $"Cold callers got different tokens: {t.AccessToken} vs {tokens[0].AccessToken}.");
        }

        Specification.Assert(c.Backend.Exchanges == 1 && c.Backend.JwtGrants == 1, $"3 cold callers caused {c.Backend.Exchanges} token exchanges and {c.Backend.JwtGrants} JWT-bearer grants (expected 1 and 1).");
        Specification.Assert(c.Backend.UnknownAssertions == 0, "A JWT-bearer grant used an assertion the IdP never issued.");
    }

    /// <summary>
    /// InvalidateCache() races with the exchange in flight: the caller still gets a token; if the invalidation came after
    /// the exchange started, its token is not served afterwards.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task InvalidateMidExchange()
    {
        await using var c = new Client();
        var call = Task.Run(() => c.GetAsync());
        var invalidate = Task.Run(() =>
        {
            var startedBefore = c.Backend.Exchanges > 0;
            c.Provider.InvalidateCache();
            return startedBefore;
        });
        var token = await call;
        var startedBefore = await invalidate;
        Specification.Assert(c.Backend.WasIssued(token.AccessToken), "A token the server never issued was served.");

        var after = await c.GetAsync();
        Specification.Assert(c.Backend.WasIssued(after.AccessToken), "A token the server never issued was served.");
        if (startedBefore)
        {
            Specification.Assert(after.AccessToken != "xat-1", "I3: the token of the exchange in flight during InvalidateCache() was served afterwards.");
        }
    }

    /// <summary>3 callers reject the same token with InvalidateCache(rejected) and retry: exactly one new exchange, one new token for all.</summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task ConditionalInvalidationStorm() => ConditionalInvalidationStorm(static (provider, rejected) => provider.InvalidateCache(rejected));

    /// <summary>The storm with the caller's reaction to a rejection given (seeded bug: an unconditional invalidation).</summary>
    internal static async Task ConditionalInvalidationStorm(Action<CrossApplicationAccessProvider, string> onRejected)
    {
        await using var c = new Client();
        var rejected = await c.GetAsync();
        var retries = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            var held = await c.GetAsync();
            if (held.AccessToken == rejected.AccessToken)
            {
                onRejected(c.Provider, held.AccessToken); // what the handler does on 401 invalid_token
                held = await c.GetAsync();
            }

            Specification.Assert(held.AccessToken != rejected.AccessToken, "A retry got the rejected token again.");
            return held;
        })));

        foreach (var t in retries)
        {
            Specification.Assert(ReferenceEquals(t, retries[0]), "Retries got different replacement tokens.");
        }

        Specification.Assert(c.Backend.JwtGrants == 2, $"I4: 3 rejections of one token caused {c.Backend.JwtGrants - 1} new grants (expected 1).");
    }

    /// <summary>
    /// T3/T5 (spec/security.md): two concurrent first uses of the pre-registered credentials (client secret), one with
    /// authorization server A, one with B, nothing configured in TrustedAuthorizationServers. The credentials end up
    /// pinned to exactly one of them: that use succeeds, the other fails with UntrustedAuthorizationServer and its
    /// token is never served; afterwards a use of the other server is refused before any request reaches it. The
    /// losing server may have received its racing first use's grant (the pin follows the first success), never more.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task IssuerPinRace() => IssuerPinRace(seededBugTrust: null);

    /// <summary>The pin race; <paramref name="seededBugTrust"/> (a seeded bug) replaces the provider's issuer trust.</summary>
    internal static async Task IssuerPinRace(IssuerTrust? seededBugTrust)
    {
        await using var c = new Client(seededBugTrust);
        var a = Task.Run(() => World.Capture(c.Provider.GetAccessTokenAsync(ResourceUrl, AuthorizationServerUrl)));
        var b = Task.Run(() => World.Capture(c.Provider.GetAccessTokenAsync(ResourceUrl, new Uri(CrossAppBackend.IssuerB))));
        var outcomes = await Task.WhenAll(new[] { a, b });
        var succeeded = outcomes.Count(static o => o.Token is not null);
        Specification.Assert(succeeded == 1, $"T3: {succeeded} of two concurrent first uses (issuers A and B) succeeded: the credentials were bound to {(succeeded == 2 ? "both issuers" : "none")} (expected exactly one).");

        var (winner, loser, lost) = outcomes[0].Token is not null
            ? (CrossAppBackend.Issuer, CrossAppBackend.IssuerB, outcomes[1])
            : (CrossAppBackend.IssuerB, CrossAppBackend.Issuer, outcomes[0]);
        Specification.Assert(
            (lost.Error as OAuthException)?.Reason == OAuthFailureReason.UntrustedAuthorizationServer,
            $"T3: the first use of the issuer that lost the pin failed with {lost.Error?.GetType().Name} ({(lost.Error as OAuthException)?.Reason}), not UntrustedAuthorizationServer.");

        // After the race: the loser gets nothing, not even a metadata request; the winner's token is served.
        var before = c.Backend.RequestsTo(loser);
        var again = await World.Capture(c.Provider.GetAccessTokenAsync(ResourceUrl, new Uri(loser)));
        Specification.Assert((again.Error as OAuthException)?.Reason == OAuthFailureReason.UntrustedAuthorizationServer, $"T3: a use of {loser} after the credentials were pinned to {winner} was not refused ({again.Error?.GetType().Name ?? "it got a token"}).");
        Specification.Assert(c.Backend.RequestsTo(loser) == before, $"T3: a use of {loser} after the pin sent {c.Backend.RequestsTo(loser) - before} request(s) to it.");
        var winnerToken = outcomes[0].Token ?? outcomes[1].Token!;
        var served = await c.Provider.GetAccessTokenAsync(ResourceUrl, new Uri(winner));
        Specification.Assert(served.AccessToken == winnerToken.AccessToken, $"T3: the pinned issuer's token was not the one served afterwards ({served.AccessToken} vs {winnerToken.AccessToken}).");

        // T3: the pin is claimed before the first request carrying the credentials, so the loser received none of them,
        // not even from its own racing first use (found by this scenario before the claim moved ahead of the grant).
        Specification.Assert(c.Backend.SecretGrantsTo(loser) == 0, $"T3: {c.Backend.SecretGrantsTo(loser)} requests carrying the secret reached {loser}, which lost the pin.");
    }

    /// <summary>The first caller's wait is cancelled while a second caller joins: the second always gets a token.</summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task FirstCallerCancelled()
    {
        await using var c = new Client();
        using var cts = new CancellationTokenSource();
        var first = World.Capture(c.GetAsync(cts.Token));
        var cancel = Task.Run(cts.Cancel);
        var second = await Task.Run(() => World.Capture(c.GetAsync()));
        var a = await first;
        await cancel;

        Specification.Assert(second.Token is not null, $"I6: the second caller did not get a token after the first caller cancelled: {second.Error?.GetType().Name}.");
        Specification.Assert(a.Token is not null || a.Cancelled, $"The cancelled caller got {a.Error}.");
        Specification.Assert(c.Backend.JwtGrants <= 2, $"{c.Backend.JwtGrants} JWT-bearer grants for two callers.");
    }
}
