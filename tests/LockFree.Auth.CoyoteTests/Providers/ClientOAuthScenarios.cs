using System.Net;
using LockFree.Auth.CoyoteTests.Harness;
using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Providers;

/// <summary>
/// Race scenarios of <see cref="ClientOAuthProvider"/> + <see cref="ClientOAuthHandler"/> (client credentials grant,
/// pre-registered client) over <see cref="OAuthBackend"/>: concurrent cold callers, invalidation mid-exchange, a 401
/// storm with one token, the first caller cancelled, and a storm of rejections of a token the resource never accepted (R1).
/// </summary>
public static class ClientOAuthScenarios
{
    /// <summary>
    /// One scenario's client: the provider over the in-memory back channel (no <see cref="HttpClient"/>), and the
    /// resource requests sent through the real <see cref="ClientOAuthHandler"/> by an <see cref="HttpMessageInvoker"/>,
    /// which hands the handler's own (controlled) task back. Disposing it ends everything the scenario started.
    /// </summary>
    private sealed class Client : IAsyncDisposable
    {
        public Client()
        {
            Backend = new OAuthBackend();
            Provider = ClientOAuthProvider.OverBackChannel(
                new Uri(OAuthBackend.Resource),
                new ClientOAuthOptions { GrantType = OAuthGrantType.ClientCredentials, ClientId = "app", ClientSecret = "secret" },
                new InMemoryBackChannel(Backend, Clock),
                timeProvider: Clock);
            Http = new HttpMessageInvoker(new ClientOAuthHandler(Provider, Backend), disposeHandler: true);
        }

        public ControlledClock Clock { get; } = new();
        public OAuthBackend Backend { get; }
        public ClientOAuthProvider Provider { get; }
        public HttpMessageInvoker Http { get; }

        public async Task<(HttpStatusCode Status, string Body)> CallAsync(CancellationToken cancellationToken = default)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, OAuthBackend.Resource);
            using var response = await Http.SendAsync(request, cancellationToken);
            return (response.StatusCode, InMemoryBackChannel.ReadText(response.Content));
        }

        /// <summary>The end of every scenario: nothing it started outlives the iteration.</summary>
        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            Provider.Dispose();
            await Backend.DrainAsync();
        }
    }

    /// <summary>3 concurrent cold requests: discovery once, one client-credentials grant, all succeed with the same token.</summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task ColdCallers()
    {
        await using var c = new Client();
        var calls = Enumerable.Range(0, 3).Select(_ => Task.Run(() => c.CallAsync())).ToArray();
        var results = await Task.WhenAll(calls);
        foreach (var (status, body) in results)
        {
            Specification.Assert(status == HttpStatusCode.OK, $"A cold request ended with {status}.");
            Specification.Assert(body == results[0].Body, $"Cold requests used different tokens: {body} vs {results[0].Body}.");
        }

        Specification.Assert(c.Backend.TokenRequests == 1, $"3 cold requests caused {c.Backend.TokenRequests} token requests (expected 1).");
    }

    /// <summary>
    /// InvalidateTokens races with the first exchange. Requests succeed; if the invalidation came after the exchange was
    /// sent, its token is not what later requests use.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task InvalidateMidExchange()
    {
        await using var c = new Client();
        var call = Task.Run(() => c.CallAsync());
        var invalidate = Task.Run(() =>
        {
            var sentBefore = c.Backend.TokenRequests > 0;
            c.Provider.InvalidateTokens();
            return sentBefore;
        });
        var (status, _) = await call;
        var sentBefore = await invalidate;
        Specification.Assert(status == HttpStatusCode.OK, $"The request ended with {status}.");

        var after = await c.Provider.GetTokensAsync();
        Specification.Assert(c.Backend.WasIssued(after.AccessToken), "A token the server never issued was served.");
        if (sentBefore)
        {
            Specification.Assert(after.AccessToken != "at-1", "I3: the token of the exchange in flight during InvalidateTokens was used afterwards.");
        }

        Specification.Assert(c.Backend.InvalidGrants == 0, $"{c.Backend.InvalidGrants} invalid_grant responses (a refresh token was used twice).");
    }

    /// <summary>
    /// The resource rejects the token all 3 concurrent requests were sent with: one refresh (never a second use of the
    /// rotated refresh token), every request retried once and succeeds.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task ConditionalInvalidationStorm() => ConditionalInvalidationStorm(blindInvalidation: false);

    /// <summary>
    /// The storm; with <paramref name="blindInvalidation"/> (a seeded bug) a racing task also drops the tokens
    /// unconditionally, as an application reacting to a 401 with <c>InvalidateTokens()</c> would.
    /// </summary>
    internal static async Task ConditionalInvalidationStorm(bool blindInvalidation)
    {
        await using var c = new Client();
        var (first, _) = await c.CallAsync();
        Specification.Assert(first == HttpStatusCode.OK, $"The first request ended with {first}.");
        c.Backend.RevokeAllAccessTokens();

        var calls = Enumerable.Range(0, 3).Select(_ => Task.Run(() => c.CallAsync())).ToList();
        if (blindInvalidation)
        {
            calls.Add(Task.Run(() =>
            {
                c.Provider.InvalidateTokens();
                return (HttpStatusCode.OK, "");
            }));
        }

        var results = await Task.WhenAll(calls);
        foreach (var (status, _) in results)
        {
            Specification.Assert(status == HttpStatusCode.OK, $"A request after the revocation ended with {status}.");
        }

        Specification.Assert(c.Backend.InvalidGrants == 0, $"I4: {c.Backend.InvalidGrants} invalid_grant: the rotated refresh token was used twice.");
        Specification.Assert(c.Backend.RefreshGrants == 1, $"I4: 3 rejections of one token caused {c.Backend.RefreshGrants} refreshes (expected 1).");
    }

    /// <summary>
    /// R1 (spec/security.md): the resource rejects every token, also the ones it never accepted. 3 concurrent requests
    /// fail with the same never-accepted token: it is counted once and they share one exchange. 2 requests with the
    /// replacement, also rejected, within the back-off (the scenario's clock does not move): the 401 is returned as is,
    /// no exchange, not counted. After the back-off (1 s on the controlled clock) 3 requests with it: counted once more
    /// (2), one exchange.
    /// </summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static Task FreshRejectionStorm() => FreshRejectionStorm(seededBugCount: null);

    /// <summary>The R1 storm; <paramref name="seededBugCount"/> (a seeded bug) replaces the provider's count of fresh rejections.</summary>
    internal static async Task FreshRejectionStorm(Func<AuthCell<ProviderState>, TokenEntry, TimeProvider, bool>? seededBugCount)
    {
        await using var c = new Client();
        c.Provider.Rejections.SeededBugFreshRejectionCount = seededBugCount;
        c.Backend.RejectEveryToken();
        await c.Provider.GetTokensAsync(); // at-1: cached, never accepted
        Specification.Assert(c.Backend.TokenRequests == 1, $"The first token took {c.Backend.TokenRequests} token requests.");

        // Round 1: 3 concurrent requests fail with the one never-accepted token.
        await Round(c, 3, "round 1");
        Specification.Assert(c.Provider.State.FreshRejections == 1, $"R1: 3 concurrent rejections of one never-accepted token were counted {c.Provider.State.FreshRejections} times (expected once).");
        Specification.Assert(c.Backend.TokenRequests == 2, $"R1: 3 concurrent rejections of one never-accepted token started {c.Backend.TokenRequests - 1} exchanges (expected 1).");
        var (storm, replacement) = (c.Backend.ResourceRequestsWith("at-1"), c.Backend.ResourceRequestsWith("at-2"));
        Specification.Assert(replacement >= storm, $"R1: {storm} requests were rejected with the storm's token but only {replacement} retried with its replacement: a request failed by a token already counted was refused instead of joining the exchange.");

        // Round 2: its replacement is rejected too, within the back-off: returned as is, no exchange, not counted.
        await Round(c, 2, "round 2");
        Specification.Assert(c.Backend.TokenRequests == 2, $"R1: rejections of the replacement within the {RejectionPolicy.RejectionBackoff(2).TotalSeconds} s back-off started {c.Backend.TokenRequests - 2} exchanges (expected 0).");
        Specification.Assert(c.Provider.State.FreshRejections == 1, $"R1: rejections refused within the back-off changed the count to {c.Provider.State.FreshRejections} (expected 1).");

        // Round 3: after the back-off the replacement's rejection counts (2) and starts exactly one exchange.
        c.Clock.Advance(RejectionPolicy.RejectionBackoff(2));
        await Round(c, 3, "round 3");
        Specification.Assert(c.Provider.State.FreshRejections == 2, $"R1: after the back-off, 3 concurrent rejections of the replacement left the count at {c.Provider.State.FreshRejections} (expected 2).");
        Specification.Assert(c.Backend.TokenRequests == 3, $"R1: after the back-off, 3 concurrent rejections of the replacement started {c.Backend.TokenRequests - 2} exchanges (expected 1).");
        Specification.Assert(c.Backend.InvalidGrants == 0, $"R1: {c.Backend.InvalidGrants} invalid_grant: a refresh token was used twice.");

        static async Task Round(Client c, int requests, string round)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, requests).Select(_ => Task.Run(() => c.CallAsync())).ToArray());
            foreach (var (status, _) in results)
            {
                Specification.Assert(status == HttpStatusCode.Unauthorized, $"R1: a request of {round} ended with {status}; the resource rejects every token.");
            }
        }
    }

    /// <summary>The first cold request is cancelled while a second one runs: the second succeeds; the first succeeds or is cancelled.</summary>
    [Microsoft.Coyote.SystematicTesting.Test]
    public static async Task FirstCallerCancelled()
    {
        await using var c = new Client();
        using var cts = new CancellationTokenSource();
        var first = Task.Run(async () =>
        {
            try
            {
                return (await c.CallAsync(cts.Token)).Status;
            }
            catch (OperationCanceledException)
            {
                return (HttpStatusCode)0;
            }
        });
        var cancel = Task.Run(cts.Cancel);
        var (second, _) = await Task.Run(() => c.CallAsync());
        var firstStatus = await first;
        await cancel;

        Specification.Assert(second == HttpStatusCode.OK, $"I6: the second request ended with {second} after the first caller cancelled.");
        Specification.Assert(firstStatus is HttpStatusCode.OK or 0, $"The cancelled request ended with {firstStatus}.");
        Specification.Assert(c.Backend.TokenRequests <= 2, $"{c.Backend.TokenRequests} token requests for two callers.");
        Specification.Assert(c.Backend.InvalidGrants == 0, "invalid_grant after a cancellation.");
    }
}
