using System.Net;
using LockFree.Auth.CoyoteTests.Harness;
using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Providers;

/// <summary>
/// Race scenarios of <see cref="ClientOAuthProvider"/> + <see cref="ClientOAuthHandler"/> (client credentials grant,
/// pre-registered client) over <see cref="OAuthBackend"/>: concurrent cold callers, invalidation mid-exchange, a 401
/// storm with one token, and the first caller cancelled.
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
