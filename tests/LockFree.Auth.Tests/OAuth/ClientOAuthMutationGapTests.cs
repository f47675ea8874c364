using System.Net;
using LockFree.Auth.Protocol;
using LockFree.Auth.Testing.OAuth;
using LockFree.Auth.Tests.CrossAppAccess;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.OAuth;

/// <summary>
/// Tests for mutants of <c>ClientOAuthProvider.cs</c> and <c>RejectionPolicy.cs</c> that survived the providers'
/// Stryker run (spec/mutation-testing.md, "Score: providers"): R1's reset on acceptance and its warning, the back-off
/// schedule, 403 challenges that must pass through, the token cache restore, the logged events of the catalogue, the constructor's guard and
/// disposal; and the gaps still open after the first round (spec/mutation-testing.md, "Gaps still open"): the user's
/// TokenExpiry logger factory, the parts' disposal, the restored token on the first request, a restored refresh token
/// without issuer, the first challenge's scope limit and remembered hint, a stale 403 after a step-up, and which token
/// endpoint errors retire a registered client.
/// </summary>
public sealed class ClientOAuthMutationGapTests
{
    private static async Task<OAuthTestHost> AuthorizedHostAsync(Action<FakeMcpAuthServer>? server = null, CapturingLoggerFactory? logs = null)
    {
        var host = new OAuthTestHost(server: server, loggerFactory: logs);
        using var first = await host.GetAsync().Within();
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        return host;
    }

    private static async Task<HttpStatusCode> StatusOfGetAsync(OAuthTestHost host)
    {
        using var response = await host.GetAsync().Within();
        return response.StatusCode;
    }

    [Fact]
    public void RejectionBackoff_ZeroForTheFirstThenDoublingFromOneSecondUpToFiveMinutes()
    {
        Assert.Equal(TimeSpan.Zero, RejectionPolicy.RejectionBackoff(1));
        Assert.Equal(TimeSpan.FromSeconds(1), RejectionPolicy.RejectionBackoff(2));
        Assert.Equal(TimeSpan.FromSeconds(2), RejectionPolicy.RejectionBackoff(3));
        Assert.Equal(TimeSpan.FromSeconds(4), RejectionPolicy.RejectionBackoff(4));
        Assert.Equal(TimeSpan.FromSeconds(256), RejectionPolicy.RejectionBackoff(10));
        Assert.Equal(TimeSpan.FromMinutes(5), RejectionPolicy.RejectionBackoff(11));
        Assert.Equal(TimeSpan.FromMinutes(5), RejectionPolicy.RejectionBackoff(1000));
    }

    [Fact]
    public async Task R1_AcceptedTokenResetsTheCount_NextFreshRejectionExchangesWithinTheOldBackoff()
    {
        using var host = await AuthorizedHostAsync().Within(); // t1, accepted
        host.Server.RejectEveryToken = true;
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOfGetAsync(host)); // t1 (accepted before) retired: t2, its replay rejected
        var before = host.Server.TokenRequests;
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOfGetAsync(host)); // t2 never accepted: count 1, back-off 1 s, t3
        Assert.Equal(before + 1, host.Server.TokenRequests);

        host.Server.RejectEveryToken = false;
        Assert.Equal(HttpStatusCode.OK, await StatusOfGetAsync(host)); // t3 accepted: the count starts over
        host.Server.RejectEveryToken = true;
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOfGetAsync(host)); // t3 (accepted) retired: t4
        before = host.Server.TokenRequests;

        // t4 is the first fresh rejection since the acceptance: an exchange at once, although the clock has not moved
        // past the back-off the previous count set.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOfGetAsync(host));
        Assert.True(host.Server.TokenRequests == before + 1, "R1: after an accepted token the next fresh rejection must exchange at once (count reset)");
        Assert.Equal(1, host.Provider.State.FreshRejections);
    }

    [Fact]
    public async Task R1_SecondFreshRejectionInARow_OneWarningWithCountAndNextBackoff()
    {
        var logs = new CapturingLoggerFactory();
        using var host = await AuthorizedHostAsync(logs: logs).Within();
        host.Server.RejectEveryToken = true;
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOfGetAsync(host)); // t1 (accepted) retired: t2
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOfGetAsync(host)); // t2 fresh: count 1 (no warning), t3
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOfGetAsync(host)); // t3 within the back-off: no exchange
        host.Time.Advance(TimeSpan.FromSeconds(1));
        var before = host.Server.TokenRequests;
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOfGetAsync(host)); // t3 fresh: count 2, t4

        Assert.Equal(before + 1, host.Server.TokenRequests);
        var warning = Assert.Single(logs.Messages, m => m.Contains("tokens in a row", StringComparison.Ordinal));
        Assert.Contains("rejected 2 tokens in a row", warning, StringComparison.Ordinal);
        Assert.Contains("waits 00:00:02", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forbidden_NotInsufficientScope_PassesThroughWithoutStepUp()
    {
        using var host = await AuthorizedHostAsync(s => s.ChallengeScope = "mcp:basic").Within();
        var entry = host.Provider.TryGetCachedEntry()!;
        var grants = host.Server.TokenRequests;

        var retry = await host.Provider.HandleChallengeAsync(
            entry, HttpStatusCode.Forbidden, WwwAuthenticate.Parse("Bearer error=\"invalid_token\", scope=\"mcp:admin\""), default).Within();
        var noScope = await host.Provider.HandleChallengeAsync(
            entry, HttpStatusCode.Forbidden, WwwAuthenticate.Parse("Bearer error=\"insufficient_scope\""), default).Within();

        Assert.Null(retry);
        Assert.Null(noScope);
        Assert.Equal(grants, host.Server.TokenRequests);
        Assert.Equal(["mcp:basic"], host.Provider.CurrentScopes);
    }

    [Fact]
    public async Task Forbidden_InsufficientScopeTheTokenAlreadyHad_PassesThroughWithoutRetryingTheSameToken()
    {
        var logs = new CapturingLoggerFactory();
        using var host = await AuthorizedHostAsync(s => s.ChallengeScope = "mcp:basic", logs).Within();
        var entry = host.Provider.TryGetCachedEntry()!;
        var grants = host.Server.TokenRequests;

        var retry = await host.Provider.HandleChallengeAsync(
            entry, HttpStatusCode.Forbidden, WwwAuthenticate.Parse("Bearer error=\"insufficient_scope\", scope=\"mcp:basic\""), default).Within();

        Assert.Null(retry);
        Assert.Equal(grants, host.Server.TokenRequests);
        Assert.DoesNotContain(logs.Messages, m => m.Contains("step-up completed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StepUp_LogsTheNewScopeSet()
    {
        var logs = new CapturingLoggerFactory();
        using var host = new OAuthTestHost(server: s => { s.ChallengeScope = "mcp:basic"; s.RequireScope("/mcp/tools", "mcp:write"); }, loggerFactory: logs);
        (await host.GetAsync().Within()).Dispose();

        using var response = await host.PostAsync("call", "/mcp/tools").Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(logs.Messages, m => m.Contains("Scope step-up completed; requests now use the scopes 'mcp:basic mcp:write'.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Challenge_ForeignMetadataHint_IgnoredAndLogged()
    {
        var logs = new CapturingLoggerFactory();
        using var host = await AuthorizedHostAsync(logs: logs).Within();

        var entry = await host.Provider.HandleChallengeAsync(
            null, HttpStatusCode.Unauthorized, WwwAuthenticate.Parse("Bearer resource_metadata=\"https://elsewhere.example.net/.well-known/oauth-protected-resource\""), default).Within();

        Assert.NotNull(entry);
        Assert.Single(logs.Messages, m => m.Contains("named resource metadata on another origin; the hint was ignored", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RefreshInvalidGrant_Logged()
    {
        var logs = new CapturingLoggerFactory();
        using var host = await AuthorizedHostAsync(logs: logs).Within();
        using (var back = host.Server.CreateClient())
        {
            var form = new FormUrlEncodedContent([new("grant_type", "refresh_token"), new("refresh_token", "rt-1"), new("client_id", "dcr-client-1")]);
            (await back.PostAsync("https://auth.example.com/token", form).Within()).Dispose();
        }

        host.Time.Advance(TimeSpan.FromHours(2));
        Assert.Equal(HttpStatusCode.OK, await StatusOfGetAsync(host));

        Assert.Equal(1, host.Server.InvalidGrants);
        Assert.Single(logs.Messages, m => m.Contains("The refresh token was rejected (invalid_grant)", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("ftp://example.com/mcp")]
    [InlineData("file:///tmp/mcp")]
    public void Constructor_ServerUrlNotHttp_ArgumentExceptionNamingIt(string url)
    {
        using var http = new HttpClient();

        var ex = Assert.Throws<ArgumentException>(() => new ClientOAuthProvider(new Uri(url), new ClientOAuthOptions(), http));

        Assert.Equal("serverUrl", ex.ParamName);
        Assert.StartsWith("The server URL must be an absolute http(s) URI.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispose_DisposesTheCoordinatorInUse()
    {
        using var host = await AuthorizedHostAsync().Within();
        var coordinator = host.Provider.ActiveCoordinator!;

        host.Provider.Dispose();

        Assert.True(coordinator.IsDisposed, "Dispose must release the token coordinators (their timers and work in flight)");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => host.Provider.GetTokensAsync()).Within();
    }
    private static TokenContainer Restored(string? scope, TimeSpan lifetime) => new()
    {
        AccessToken = "restored-access",
        RefreshToken = "restored-refresh",
        TokenType = "Bearer",
        Scope = scope,
        Issuer = "https://auth.example.com",
        ObtainedAt = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
        ExpiresIn = lifetime,
    };

    [Theory]
    [InlineData(null, new[] { "mcp:read" })] // no scope in the cache: the configured scopes are the token's set
    [InlineData("mcp:read mcp:write", new[] { "other" })] // the token's own scope wins over the configured one
    public async Task TokenCache_RestoredTokenOfTheScopeSet_ServedWithoutExchange(string? scope, string[] configured)
    {
        var restored = Restored(scope, TimeSpan.FromHours(1));
        var cache = new LockFree.Auth.Tests.Security.MemoryTokenCache(restored);
        using var host = new OAuthTestHost(o => { o.TokenCache = cache; o.Scopes = configured; });

        var tokens = await host.Provider.GetTokensAsync().Within();

        Assert.Same(restored, tokens);
        Assert.Equal(0, host.Server.TokenRequests);
        Assert.Equal(0, host.Prompts);
    }

    [Theory]
    [InlineData(30, false)] // exactly 30 s left: refreshed, not served
    [InlineData(31, true)]
    public async Task TokenCache_RestoredTokenWithThirtySecondsLeft_NotServed(int secondsLeft, bool served)
    {
        var restored = Restored("mcp:read", TimeSpan.FromSeconds(secondsLeft));
        var cache = new LockFree.Auth.Tests.Security.MemoryTokenCache(restored);
        using var host = new OAuthTestHost(o => { o.TokenCache = cache; o.Scopes = ["mcp:read"]; });

        var tokens = await host.Provider.GetTokensAsync().Within();

        Assert.Equal(served, ReferenceEquals(restored, tokens));
        Assert.Equal(served, host.Server.TokenRequests == 0);
    }

    private static ClientOAuthOptions Options(FakeMcpAuthServer server, ITokenCache? cache = null, Action<ClientOAuthOptions>? configure = null)
    {
        var options = new ClientOAuthOptions
        {
            RedirectUri = new Uri("http://127.0.0.1:7777/callback"),
            AuthorizationCallbackHandler = (context, _) => Task.FromResult<AuthorizationResult?>(server.Authorize(context.AuthorizationUri)),
            TokenCache = cache,
        };
        configure?.Invoke(options);
        return options;
    }

    [Fact]
    public async Task TokenExpiryLoggerFactory_SetByTheUser_GetsTheCoreEvents_NotTheProvidersFactory()
    {
        var own = new CapturingLoggerFactory();
        var providerLogs = new CapturingLoggerFactory();
        using var host = new OAuthTestHost(o => o.TokenExpiry = new AuthCoordinatorOptions { LoggerFactory = own }, loggerFactory: providerLogs);

        using var response = await host.GetAsync().Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(own.Messages, m => m.Contains("Coordinator oauth.tokens: the value of generation", StringComparison.Ordinal));
        Assert.DoesNotContain(providerLogs.Messages, m => m.Contains("Coordinator oauth.tokens:", StringComparison.Ordinal));
        Assert.Contains(providerLogs.Messages, m => !m.Contains("Coordinator ", StringComparison.Ordinal)); // the provider's own events still go there
    }

    // Removing _discovery.Dispose() fails the "metadata discovery" case. The "client registration" case stays green when
    // _clients.Dispose() is removed: the registration's only waiters are token acquisitions, which _tokens.Dispose()
    // cancels, and the last waiter leaving cancels the shared work anyway (spec/mutation-testing.md: that mutant is
    // equivalent). Kept for the property itself.
    [Theory]
    [InlineData("metadata discovery")]
    [InlineData("client registration")]
    public async Task Dispose_CancelsTheBackChannelStepInFlight(string step)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var server = new FakeMcpAuthServer(time);
        Func<HttpRequestMessage, bool> held = step == "metadata discovery"
            ? static r => r.RequestUri!.AbsolutePath.StartsWith("/.well-known/oauth-protected-resource", StringComparison.Ordinal)
            : static r => r.RequestUri!.AbsolutePath == "/register";
        var holding = new HoldingHandler(server, held);
        using var back = new HttpClient(holding);
        var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), Options(server), back, null, time);
        var caller = provider.GetTokensAsync();
        await holding.Arrived.Task.Within();

        provider.Dispose();

        await holding.Cancelled.Task.Within(TimeSpan.FromSeconds(10)); // "Dispose must cancel the {step} in flight"
        Assert.NotNull(await Record.ExceptionAsync(() => caller).Within());
        Assert.Equal(0, step == "metadata discovery" ? server.Registrations : server.TokenRequests);
    }

    [Fact]
    public async Task Dispose_CancelsTheTokenCacheReadInFlight()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var server = new FakeMcpAuthServer(time);
        var cache = new HoldingTokenCache();
        using var back = server.CreateClient();
        var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), Options(server, cache), back, null, time);
        var caller = provider.GetTokensAsync();
        await cache.Arrived.Task.Within();

        provider.Dispose();

        await cache.Cancelled.Task.Within(TimeSpan.FromSeconds(10)); // "Dispose must cancel the token cache read in flight"
        Assert.NotNull(await Record.ExceptionAsync(() => caller).Within());
        Assert.Equal(0, server.PrmRequests);
    }

    [Fact]
    public async Task TokenCache_GetTokensAsync_RestoredTokenServedWithoutDiscovery()
    {
        var restored = Restored("mcp:read", TimeSpan.FromHours(1));
        using var host = new OAuthTestHost(o => { o.TokenCache = new LockFree.Auth.Tests.Security.MemoryTokenCache(restored); o.Scopes = ["mcp:read"]; });

        var tokens = await host.Provider.GetTokensAsync().Within();

        Assert.Same(restored, tokens);
        Assert.Equal(0, host.Server.PrmRequests);
        Assert.Equal(0, host.Server.AsMetadataRequests);
        Assert.Equal(["mcp:read"], host.Provider.CurrentScopes);
    }

    [Fact]
    public async Task TokenCache_Restart_FirstRequestCarriesTheRestoredToken_NoChallengeNoDiscovery()
    {
        var cache = new LockFree.Auth.Tests.Security.MemoryTokenCache(null);
        using var host = new OAuthTestHost(o => o.TokenCache = cache);
        (await host.GetAsync().Within()).Dispose();
        var stored = cache.Stored!;
        var (unauthorized, prm, asMetadata, grants) = (host.Server.Unauthorized, host.Server.PrmRequests, host.Server.AsMetadataRequests, host.Server.TokenRequests);

        // A new process over the same cache.
        using var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), Options(host.Server, cache), host.BackChannel, null, host.Time);
        using var client = new HttpClient(new ClientOAuthHandler(provider, host.Server), disposeHandler: false);
        using var response = await client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = host.Server.Requests.Last(r => r.Path == "/mcp");
        Assert.Equal(stored.AccessToken, sent.Authorization?.Parameter);
        Assert.Equal(unauthorized, host.Server.Unauthorized); // not sent without a token first
        Assert.Equal(prm, host.Server.PrmRequests);
        Assert.Equal(asMetadata, host.Server.AsMetadataRequests);
        Assert.Equal(grants, host.Server.TokenRequests);
    }

    [Theory]
    [InlineData(true)] // trusted by configuration: the refresh token may go there
    [InlineData(false)] // nothing configured or pinned: T4 keeps the refresh token, the provider authorizes again
    public async Task TokenCache_RestoredRefreshTokenWithoutIssuer_RefreshedOnlyAtATrustedIssuer(bool trusted)
    {
        var cache = new LockFree.Auth.Tests.Security.MemoryTokenCache(null);
        using var host = new OAuthTestHost(o => o.TokenCache = cache);
        (await host.GetAsync().Within()).Dispose();
        await cache.StoreTokensAsync(cache.Stored! with { Issuer = null }, default); // written by an older version
        host.Time.Advance(TimeSpan.FromHours(2));
        var codeGrants = host.Server.CodeGrants;

        var options = Options(host.Server, cache, o =>
        {
            if (trusted)
            {
                o.TrustedAuthorizationServers = [new Uri(host.Server.Issuer)];
            }
        });
        using var provider = new ClientOAuthProvider(new Uri(FakeMcpAuthServer.ResourceUrl), options, host.BackChannel, null, host.Time);
        using var client = new HttpClient(new ClientOAuthHandler(provider, host.Server), disposeHandler: false);
        using var response = await client.GetAsync(FakeMcpAuthServer.ResourceUrl).Within();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(trusted ? 1 : 0, host.Server.RefreshGrants);
        Assert.Equal(trusted ? codeGrants : codeGrants + 1, host.Server.CodeGrants);
    }

    [Fact]
    public async Task FirstChallenge_ScopeBeyondTheLimit_LimitExceededBeforeAnyRequest()
    {
        using var host = new OAuthTestHost();
        var huge = string.Join(' ', Enumerable.Range(0, ScopeSet.MaxScopes + 1).Select(i => "s" + i));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.Provider.HandleChallengeAsync(
            null, HttpStatusCode.Unauthorized, WwwAuthenticate.Parse($"Bearer scope=\"{huge}\""), default)).Within();

        Assert.Equal(OAuthFailureReason.LimitExceeded, ex.Reason);
        Assert.Equal(0, host.Server.PrmRequests);
        Assert.Equal(0, host.Prompts);
        Assert.Equal(0, host.Server.TokenRequests);
        Assert.Empty(host.Provider.CurrentScopes);
    }

    [Fact]
    public async Task FirstDiscoveryFailed_NextChallengeWithoutHint_UsesTheRememberedMetadataLocation()
    {
        // The first discovery fails after reading the resource metadata (the selector chooses no server the first time),
        // before any scope set is in use; the resource metadata is served only at the location its challenge names.
        var refuse = 1;
        using var host = new OAuthTestHost(
            o => o.AuthServerSelector = servers => Interlocked.Exchange(ref refuse, 0) == 1 ? null : servers[0],
            s => { s.PrmLocation = PrmLocation.CustomInChallenge; s.PrmScopesSupported = ["mcp:read", "mcp:write"]; });
        var hinted = WwwAuthenticate.Parse($"Bearer resource_metadata=\"{host.Server.CustomPrmUrl}\"");
        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.Provider.HandleChallengeAsync(null, HttpStatusCode.Unauthorized, hinted, default)).Within();
        Assert.Equal(OAuthFailureReason.InvalidInput, ex.Reason);
        Assert.Equal(1, host.Server.PrmRequests);
        Assert.Null(host.Provider.ActiveCoordinator);

        // A challenge without resource_metadata: the location the earlier challenge named is still the resource's.
        var entry = await host.Provider.HandleChallengeAsync(null, HttpStatusCode.Unauthorized, [], default).Within();

        Assert.NotNull(entry);
        Assert.Equal(["mcp:read", "mcp:write"], host.Provider.CurrentScopes); // the scopes of the metadata found there
        Assert.Equal(2, host.Server.PrmRequests);
        Assert.DoesNotContain(host.Server.Requests, r => r.Path.StartsWith("/.well-known/", StringComparison.Ordinal) && r.Uri.Host == "mcp.example.com"); // no well-known probing, no 2025-03-26 fallback
        Assert.Equal(1, host.Prompts);
    }

    [Fact]
    public async Task StaleForbiddenAfterACompletedStepUp_NextStepUpKeepsTheScopesGained()
    {
        using var host = await AuthorizedHostAsync(s => s.ChallengeScope = "mcp:basic").Within();
        var old = host.Provider.TryGetCachedEntry()!;
        var write = await host.Provider.HandleChallengeAsync(
            old, HttpStatusCode.Forbidden, WwwAuthenticate.Parse("Bearer error=\"insufficient_scope\", scope=\"mcp:write\""), default).Within();
        Assert.Equal(["mcp:basic", "mcp:write"], host.Provider.CurrentScopes.Order());

        // A 403 for the token from before that step-up, asking for yet another scope.
        var admin = await host.Provider.HandleChallengeAsync(
            old, HttpStatusCode.Forbidden, WwwAuthenticate.Parse("Bearer error=\"insufficient_scope\", scope=\"mcp:admin\""), default).Within();

        Assert.NotNull(write);
        Assert.NotNull(admin);
        Assert.Equal(["mcp:admin", "mcp:basic", "mcp:write"], admin.Scopes.Key.Split(' ').Order());
        Assert.Equal(["mcp:admin", "mcp:basic", "mcp:write"], host.Provider.CurrentScopes.Order());
    }

    [Fact]
    public async Task TokenEndpointErrorOtherThanInvalidClient_KeepsTheRegisteredClient()
    {
        using var host = new OAuthTestHost();
        var spoil = 1;
        host.Prompt = (context, _) =>
        {
            var result = host.Server.Authorize(context.AuthorizationUri);
            return Task.FromResult<AuthorizationResult?>(Interlocked.Exchange(ref spoil, 0) == 1
                ? new AuthorizationResult { Code = "not-the-code", State = result.State, Iss = result.Iss }
                : result);
        };

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.Provider.GetTokensAsync()).Within();
        Assert.Equal("invalid_grant", ex.Error);
        Assert.Equal(1, host.Server.Registrations);

        var tokens = await host.Provider.GetTokensAsync().Within();

        Assert.NotNull(tokens.AccessToken);
        Assert.Equal(1, host.Server.Registrations); // invalid_grant says nothing about the client: it is not registered again
        Assert.Single(host.Server.TokenEndpointRequests.Select(r => r.Form.GetValueOrDefault("client_id")).Distinct());
    }

    /// <summary>
    /// Signals <paramref name="arrived"/>, then waits until <paramref name="token"/> is cancelled, which signals
    /// <paramref name="cancelled"/> (one callback: a second registration could be removed before it runs, callbacks run
    /// in reverse order) and ends the wait with an <see cref="OperationCanceledException"/>.
    /// </summary>
    private static async Task HoldUntilCancelledAsync(TaskCompletionSource arrived, TaskCompletionSource cancelled, CancellationToken token)
    {
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = token.Register(() =>
        {
            cancelled.TrySetResult();
            released.TrySetCanceled(token);
        });
        arrived.TrySetResult();
        await released.Task;
    }

    /// <summary>Holds the requests <paramref name="hold"/> selects until their token is cancelled, and says when one arrived and when it was cancelled.</summary>
    private sealed class HoldingHandler(HttpMessageHandler inner, Func<HttpRequestMessage, bool> hold) : DelegatingHandler(inner)
    {
        public TaskCompletionSource Arrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (hold(request))
            {
                await HoldUntilCancelledAsync(Arrived, Cancelled, cancellationToken);
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>An <see cref="ITokenCache"/> whose read waits until its token is cancelled.</summary>
    private sealed class HoldingTokenCache : ITokenCache
    {
        public TaskCompletionSource Arrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct)
        {
            await HoldUntilCancelledAsync(Arrived, Cancelled, ct);
            return null;
        }

        public ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct) => ValueTask.CompletedTask;
    }
}
