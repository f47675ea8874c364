using System.Net;
using LockFree.Auth.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.Security;

/// <summary>
/// Long lifetimes (L1) and background failures (O1) through the providers, against a real authorization server on
/// loopback with the provider's clock faked.
/// </summary>
public sealed class LifetimeAndFailureTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Theory]
    [InlineData(60 * 24 * 3600L, 90)]            // 60-day token, 90 days later
    [InlineData(10 * 365 * 24 * 3600L, 11 * 366)] // 10-year token, 11 years later
    public async Task LongLifetime_NeverServedPastItsExpiry(long expiresIn, int days)
    {
        await using var w = await TwoOrigins.StartAsync();
        w.AsA.Serve();
        w.AsA.ExpiresIn = expiresIn;
        TwoOrigins.ServeResource(w.A, () => w.AsA.Issuer, w.AsA);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var backChannel = new HttpClient();
        using var provider = new ClientOAuthProvider(w.McpUrl, new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = TwoOrigins.ClientId,
            ClientSecret = TwoOrigins.ClientSecret,
            TokenExpiry = new AuthCoordinatorOptions { ClockCheckInterval = TimeSpan.FromDays(1) },
        }, backChannel, null, time);
        var first = await provider.GetTokensAsync().WaitAsync(Bound);
        var expiresAt = first.ExpiresAt!.Value;

        for (var day = 0; day < days; day++)
        {
            time.Advance(TimeSpan.FromDays(1));
            var served = provider.TryGetCachedEntry()?.Tokens;
            Assert.True(served is null || time.GetUtcNow() < served.ExpiresAt, $"day {day + 1}: a token that expired at {served?.ExpiresAt:O} was served at {time.GetUtcNow():O}");
        }

        var after = await provider.GetTokensAsync().WaitAsync(Bound);
        Assert.NotSame(first, after);
        Assert.True(time.GetUtcNow() > expiresAt);
        Assert.True(after.ExpiresAt > time.GetUtcNow());
    }

    [Fact]
    public async Task BackgroundRefreshFails_NobodyWaits_LoggedAndNoUnobservedException()
    {
        await using var w = await TwoOrigins.StartAsync();
        w.AsA.Serve();
        TwoOrigins.ServeResource(w.A, () => w.AsA.Issuer, w.AsA);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logs = new RecordingLoggerFactory();
        var unobserved = new List<Exception>();
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, e) =>
        {
            if (e.Exception.Flatten().InnerExceptions.Any(static x => x.Message.Contains("token endpoint", StringComparison.Ordinal)))
            {
                lock (unobserved)
                {
                    unobserved.Add(e.Exception);
                }
            }
        };
        TaskScheduler.UnobservedTaskException += onUnobserved;
        try
        {
            using var backChannel = new HttpClient();
            using var provider = new ClientOAuthProvider(w.McpUrl, new ClientOAuthOptions
            {
                GrantType = OAuthGrantType.ClientCredentials,
                ClientId = TwoOrigins.ClientId,
                ClientSecret = TwoOrigins.ClientSecret,
            }, backChannel, logs, time);
            using var http = new HttpClient(new ClientOAuthHandler(provider, new SocketsHttpHandler()));
            using (var first = await http.GetAsync(w.McpUrl).WaitAsync(Bound))
            {
                Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            }

            w.A.Map("/token", (context, _) => LoopbackOrigin.WriteJsonAsync(context, new { error = "temporarily_unavailable" }, 503));
            time.Advance(TimeSpan.FromSeconds(3600 - 60)); // inside the refresh-ahead window
            using (var during = await http.GetAsync(w.McpUrl).WaitAsync(Bound))
            {
                Assert.Equal(HttpStatusCode.OK, during.StatusCode); // served the still-usable token; the refresh runs in the background
            }

            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!logs.Entries.Any(static e => e.Level == LogLevel.Warning && e.Message.Contains("background", StringComparison.OrdinalIgnoreCase)))
            {
                Assert.True(clock.Elapsed < Bound, "the failed background refresh was not logged");
                await Task.Delay(10);
            }

            for (var i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }

            lock (unobserved)
            {
                Assert.Empty(unobserved);
            }

            Assert.DoesNotContain(logs.Entries, static e => e.Message.Contains(TwoOrigins.ClientSecret, StringComparison.Ordinal) || e.Message.Contains("A-at-", StringComparison.Ordinal));
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }
    }
}
