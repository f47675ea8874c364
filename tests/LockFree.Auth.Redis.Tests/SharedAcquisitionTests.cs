using System.Diagnostics;
using System.Text;
using LockFree.Auth.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// Replicas sharing one token through a real Redis (spec/distributed.md, invariants R6–R12): each replica has its own
/// connection, store, <see cref="SharedTokenAcquisition"/> and coordinator; the token server rotates refresh tokens and
/// counts reuse.
/// </summary>
public sealed class SharedAcquisitionTests(RedisServerFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    private static string Prefix() => "app:" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task ColdReplica_AdoptsTheSharedToken_WithoutAnExchange()
    {
        // R6: a replica that misses in memory reads the record and adopts a newer usable token.
        var tokens = new RotatingTokenServer(TimeProvider.System, Lifetime);
        var prefix = Prefix();
        await using var a = await Replica.StartAsync(fixture.Server, prefix, tokens);
        await using var b = await Replica.StartAsync(fixture.Server, prefix, tokens);

        var first = await a.Coordinator.GetAsync().Within();
        var adopted = await b.Coordinator.GetAsync().Within();

        Assert.Equal(1, tokens.Exchanges);
        Assert.Equal(first.AccessToken, adopted.AccessToken);
        Assert.Equal(first.RefreshToken, adopted.RefreshToken);
        Assert.Equal(first.Issuer, adopted.Issuer);
        Assert.Equal(first.ExpiresAt, adopted.ExpiresAt);
    }

    [Fact]
    public async Task TwoReplicas_64CallersEach_Cold_OneExchange()
    {
        // R7: cross-process coalescing. 2 replicas x 64 concurrent callers, nothing cached anywhere: one exchange.
        var tokens = new RotatingTokenServer(TimeProvider.System, Lifetime, latency: TimeSpan.FromMilliseconds(100));
        var prefix = Prefix();
        using var logs = new RecordingLoggerFactory();
        await using var a = await Replica.StartAsync(fixture.Server, prefix, tokens, options: Replica.DefaultOptions(logs));
        await using var b = await Replica.StartAsync(fixture.Server, prefix, tokens, options: Replica.DefaultOptions(logs));

        var results = await Task.WhenAll(a.StormAsync(64), b.StormAsync(64)).Within();

        Assert.Equal(1, tokens.Exchanges);
        Assert.Equal(0, tokens.Reuses);
        Assert.Single(results.SelectMany(r => r).Select(t => t.AccessToken).Distinct());

        // One acquisition per process (the coordinators coalesce their 64 callers); one took the lease and exchanged,
        // the other adopted what it published.
        Assert.Equal(1, a.Coordinator.Statistics.AcquisitionsStarted);
        Assert.Equal(1, b.Coordinator.Statistics.AcquisitionsStarted);
        Assert.Equal(1, logs.Records.Count(r => r.EventId.Id == 5001)); // lease granted
        Assert.Equal(1, logs.Records.Count(r => r.EventId.Id == 5000)); // adopted
        output.WriteLine($"exchanges {tokens.Exchanges}, waits for the holder {logs.Records.Count(r => r.EventId.Id == 5002)}, adopted {logs.Records.Count(r => r.EventId.Id == 5000)}");
    }

    [Fact]
    public async Task TwoReplicas_64CallersEach_AfterExpiry_OneExchange_WithTheSharedRefreshToken()
    {
        // R8: after expiry, one replica refreshes with the record's refresh token; the other adopts (no reuse).
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var tokens = new RotatingTokenServer(time, Lifetime);
        var prefix = Prefix();
        await using var a = await Replica.StartAsync(fixture.Server, prefix, tokens, time);
        await using var b = await Replica.StartAsync(fixture.Server, prefix, tokens, time);
        await Task.WhenAll(a.StormAsync(64), b.StormAsync(64)).Within();
        Assert.Equal(1, tokens.Exchanges);
        var first = await a.Coordinator.GetAsync().Within();

        time.Advance(Lifetime); // both coordinators' timers retire the token
        var results = await Task.WhenAll(a.StormAsync(64), b.StormAsync(64)).Within();

        Assert.Equal(2, tokens.Exchanges);
        Assert.Equal(0, tokens.Reuses);
        Assert.Equal([null, first.RefreshToken], tokens.Presented);
        var second = Assert.Single(results.SelectMany(r => r).Select(t => t.AccessToken).Distinct());
        Assert.NotEqual(first.AccessToken, second);
    }

    [Fact]
    public async Task Rejection_RetiresTheSharedRecordOnlyIfItStillHoldsT_AndBothReplicasRecoverWithOneExchange()
    {
        // R9: a 401 for T retires the record only while it holds T; 64 rejections per replica cause one refresh in total.
        var tokens = new RotatingTokenServer(TimeProvider.System, Lifetime, latency: TimeSpan.FromMilliseconds(100));
        var prefix = Prefix();
        await using var a = await Replica.StartAsync(fixture.Server, prefix, tokens);
        await using var b = await Replica.StartAsync(fixture.Server, prefix, tokens);
        var t1 = await a.Coordinator.GetAsync().Within();
        Assert.Equal(t1.AccessToken, (await b.Coordinator.GetAsync().Within()).AccessToken);

        // Both replicas see 64 concurrent 401s for T1, and retry.
        var rejections = await Task.WhenAll(Enumerable.Range(0, 128).Select(i => Task.Run(() => (i % 2 == 0 ? a : b).RejectAsync(t1)))).Within();
        Assert.Equal(1, rejections.Count(r => r));
        var retried = await Task.WhenAll(a.StormAsync(64), b.StormAsync(64)).Within();
        var t2 = Assert.Single(retried.SelectMany(r => r).Select(t => t.AccessToken).Distinct());

        Assert.Equal(2, tokens.Exchanges);
        Assert.Equal(0, tokens.Reuses);
        Assert.Equal(t1.RefreshToken, tokens.Presented[1]);

        // A late 401 for T1 (a request sent before the refresh) no longer retires anything.
        Assert.False(await b.RejectAsync(t1));
        var record = await a.Store.ReadAsync(Replica.Key, default);
        Assert.False(record!.IsRetired);
        Assert.Equal(2, record.Version);
        Assert.Equal(t2, (await a.Coordinator.GetAsync().Within()).AccessToken);
    }

    [Fact]
    public async Task CrashedHolder_LeaseNeverPublished_AnotherReplicaTakesOverAfterTheLeaseTtl()
    {
        // R10: a holder that crashed after taking the lease delays the others by at most the lease TTL.
        var tokens = new RotatingTokenServer(TimeProvider.System, Lifetime);
        var prefix = Prefix();
        await using var b = await Replica.StartAsync(fixture.Server, prefix, tokens);
        var ttl = TimeSpan.FromMilliseconds(1500);
        var crashed = await b.Store.TryAcquireLeaseAsync(Replica.Key, 0, "crashed-replica", ttl, default);
        Assert.Equal(SharedLeaseStatus.Granted, crashed.Status);

        var watch = Stopwatch.StartNew();
        var token = await b.Coordinator.GetAsync().Within();
        watch.Stop();

        Assert.Equal(1, tokens.Exchanges);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(1000), $"took over after {watch.Elapsed.TotalMilliseconds:0} ms, before the lease expired");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took over after {watch.Elapsed.TotalMilliseconds:0} ms");
        Assert.Equal(1, (await b.Store.ReadAsync(Replica.Key, default))!.Version);
        Assert.NotNull(token);
        output.WriteLine($"lease TTL {ttl.TotalMilliseconds} ms; took over after {watch.Elapsed.TotalMilliseconds:0} ms; exchanges {tokens.Exchanges}");
    }

    [Fact]
    public async Task StoredPayload_IsNotPlainText_UnlessTheUserOptsOut()
    {
        // R11: neither the access token nor the refresh token appears in Redis; the opt-out shows the check can fail.
        var tokens = new RotatingTokenServer(TimeProvider.System, Lifetime);
        var prefix = Prefix();
        await using var a = await Replica.StartAsync(fixture.Server, prefix, tokens);
        var token = await a.Coordinator.GetAsync().Within();
        var raw = await RawRecordAsync(prefix);
        Assert.DoesNotContain(token.AccessToken, raw, StringComparison.Ordinal);
        Assert.DoesNotContain(token.RefreshToken!, raw, StringComparison.Ordinal);
        Assert.DoesNotContain(token.AccessToken[..12], raw, StringComparison.Ordinal);

        var plainPrefix = Prefix();
        await using var plain = await Replica.StartAsync(fixture.Server, plainPrefix, tokens, options: new SharedTokenOptions { StorePlainText = true });
        var plainToken = await plain.Coordinator.GetAsync().Within();
        Assert.Contains(plainToken.RefreshToken!, await RawRecordAsync(plainPrefix), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PayloadProtectedWithAnotherKey_IsAStoreFailure_NotAToken()
    {
        var tokens = new RotatingTokenServer(TimeProvider.System, Lifetime);
        var prefix = Prefix();
        await using var a = await Replica.StartAsync(fixture.Server, prefix, tokens);
        await a.Coordinator.GetAsync().Within();
        var otherKey = new SharedTokenOptions { Protector = new AesGcmSharedTokenProtector(new byte[32]), FailureMode = SharedStoreFailureMode.FailClosed };
        await using var b = await Replica.StartAsync(fixture.Server, prefix, tokens, options: otherKey);
        var error = await Assert.ThrowsAsync<SharedTokenStoreUnavailableException>(() => b.Coordinator.GetAsync().Within());
        Assert.IsType<System.Security.Cryptography.CryptographicException>(error.InnerException, exactMatch: false);
    }

    [Fact]
    public void Options_WithoutProtector_AreRejected_NamingTheOption()
    {
        var error = Assert.Throws<ArgumentException>(() => new SharedTokenAcquisition(new InMemorySharedTokenStore(), "k", (_, _) => Task.FromResult<TokenContainer>(null!), new SharedTokenOptions()));
        Assert.Contains("SharedTokenOptions.Protector", error.Message, StringComparison.Ordinal);
        var lease = Assert.Throws<ArgumentException>(() => new SharedTokenAcquisition(new InMemorySharedTokenStore(), "k", (_, _) => Task.FromResult<TokenContainer>(null!),
            new SharedTokenOptions { StorePlainText = true, LeaseTimeToLive = TimeSpan.Zero }));
        Assert.Contains("SharedTokenOptions.LeaseTimeToLive", lease.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InMemoryStore_TwoReplicas_64CallersEach_OneExchange()
    {
        // The same protocol on the in-memory model.
        var tokens = new RotatingTokenServer(TimeProvider.System, Lifetime, latency: TimeSpan.FromMilliseconds(50));
        var store = new InMemorySharedTokenStore();
        await using var a = Replica.InMemory(store, tokens);
        await using var b = Replica.InMemory(store, tokens);
        var results = await Task.WhenAll(a.StormAsync(64), b.StormAsync(64)).Within();
        Assert.Equal(1, tokens.Exchanges);
        Assert.Single(results.SelectMany(r => r).Select(t => t.AccessToken).Distinct());
    }

    private async Task<string> RawRecordAsync(string prefix)
    {
        await using var admin = await fixture.Server.ConnectAsync();
        var db = admin.GetDatabase();
        var entries = await db.HashGetAllAsync(prefix + ":{" + Replica.Key + "}:record");
        Assert.NotEmpty(entries);
        var text = new StringBuilder();
        foreach (var entry in entries)
        {
            text.Append((string?)entry.Name).Append('=').Append(Encoding.Latin1.GetString((byte[])entry.Value!)).Append('\n');
        }

        return text.ToString();
    }
}

/// <summary>Redis stopped mid-run (each test has its own server, since it kills it): R12.</summary>
public sealed class SharedAcquisitionFaultTests
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    [Fact]
    public async Task RedisStopped_Degrade_KeepsServingWithPerProcessCoalescing_WarnsAndRecovers()
    {
        await using var server = await RedisServer.StartAsync();
        using var logs = new RecordingLoggerFactory();
        var tokens = new RotatingTokenServer(TimeProvider.System, Lifetime, latency: TimeSpan.FromMilliseconds(50));
        var prefix = "app:" + Guid.NewGuid().ToString("N");
        await using var a = await Replica.StartAsync(server, prefix, tokens, options: Replica.DefaultOptions(logs));
        var t1 = await a.Coordinator.GetAsync().Within();
        Assert.Equal(1, tokens.Exchanges);

        await server.StopAsync();
        Assert.False(await a.RejectAsync(t1)); // the shared invalidation fails (logged), the local one acts
        var degraded = await a.StormAsync(64).Within();

        Assert.Equal(2, tokens.Exchanges); // one per process: the coordinator still coalesces the 64 callers
        Assert.Single(degraded.Select(t => t.AccessToken).Distinct());
        Assert.Contains(logs.Records, r => r.EventId.Id == 5005 && r.Level == LogLevel.Warning && r.Message.Contains("Degrade", StringComparison.Ordinal));
        Assert.All(logs.Records, r => Assert.DoesNotContain(t1.AccessToken, r.Message, StringComparison.Ordinal));

        // Automatic recovery: once Redis is back, the next acquisition publishes to it again.
        await server.RestartAsync();
        await RecoverAsync(a, server, prefix).Within(TimeSpan.FromSeconds(30));
        Assert.Contains(logs.Records, r => r.EventId.Id == 5006);
    }

    [Fact]
    public async Task RedisStopped_FailClosed_ThrowsTheTypedError_AndExchangesNothing()
    {
        await using var server = await RedisServer.StartAsync();
        var tokens = new RotatingTokenServer(TimeProvider.System, Lifetime);
        var options = Replica.DefaultOptions();
        options.FailureMode = SharedStoreFailureMode.FailClosed;
        await using var a = await Replica.StartAsync(server, "app:" + Guid.NewGuid().ToString("N"), tokens, options: options);
        await server.StopAsync();

        var error = await Assert.ThrowsAsync<SharedTokenStoreUnavailableException>(() => a.Coordinator.GetAsync().Within());
        Assert.Equal(0, tokens.Exchanges);
        Assert.NotNull(error.InnerException);
    }

    private static async Task RecoverAsync(Replica replica, RedisServer server, string prefix)
    {
        await using var admin = await server.ConnectAsync();
        var record = prefix + ":{" + Replica.Key + "}:record";
        while (!await Exists(admin, record))
        {
            // Each round is one acquisition (a local invalidation, as after a 401); the multiplexer reconnects by itself.
            replica.Coordinator.Invalidate();
            await replica.Coordinator.GetAsync().Within();
            await Task.Delay(100);
        }
    }

    private static async Task<bool> Exists(StackExchange.Redis.ConnectionMultiplexer admin, string key)
    {
        try
        {
            return await admin.GetDatabase().KeyExistsAsync(key);
        }
        catch (StackExchange.Redis.RedisConnectionException)
        {
            return false;
        }
    }
}
