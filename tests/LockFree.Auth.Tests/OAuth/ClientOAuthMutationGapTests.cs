using System.Net;
using LockFree.Auth.Protocol;
using LockFree.Auth.Testing.OAuth;
using LockFree.Auth.Tests.CrossAppAccess;

namespace LockFree.Auth.Tests.OAuth;

/// <summary>
/// Tests for mutants of <c>ClientOAuthProvider.cs</c> and <c>RejectionPolicy.cs</c> that survived the providers'
/// Stryker run (spec/mutation-testing.md, "Score: providers"): R1's reset on acceptance and its warning, the back-off
/// schedule, 403 challenges that must pass through, the token cache restore, the logged events of the catalogue, the constructor's guard and
/// disposal.
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
}
