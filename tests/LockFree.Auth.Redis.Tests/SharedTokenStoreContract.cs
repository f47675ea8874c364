using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// The store contract (spec/distributed.md, invariants R1–R5), run against both stores: the in-memory model and Redis.
/// </summary>
public abstract class SharedTokenStoreContract
{
    internal const string Key = "client-a";

    protected abstract Task<ISharedTokenStore> CreateStoreAsync();

    /// <summary>Makes the current lease of <paramref name="key"/> expire now (as if its holder had crashed long ago).</summary>
    protected abstract Task ExpireLeaseAsync(ISharedTokenStore store, string key);

    internal static SharedTokenValue Value(string accessToken) =>
        new(new byte[] { 1, 2, 3 }, "fp-" + accessToken, DateTimeOffset.UnixEpoch.AddDays(30000));

    [Fact]
    public async Task Lease_GrantedAtTheReadVersion_HeldForOthers_StaleForAnOldVersion()
    {
        var store = await CreateStoreAsync();
        var first = await store.TryAcquireLeaseAsync(Key, 0, "a", TimeSpan.FromMinutes(1), default);
        Assert.Equal(SharedLeaseStatus.Granted, first.Status);
        Assert.Equal(0, first.Version);

        var second = await store.TryAcquireLeaseAsync(Key, 0, "b", TimeSpan.FromMinutes(1), default);
        Assert.Equal(SharedLeaseStatus.Held, second.Status);
        Assert.True(second.Remaining > TimeSpan.Zero && second.Remaining <= TimeSpan.FromMinutes(1), $"remaining {second.Remaining}");

        Assert.True((await store.PublishAsync(Key, first, Value("T1"), default)).IsPublished);
        var stale = await store.TryAcquireLeaseAsync(Key, 0, "b", TimeSpan.FromMinutes(1), default);
        Assert.Equal(SharedLeaseStatus.Stale, stale.Status);
        Assert.Equal(1, stale.Version);

        // The publication released the lease: the next version's lease is free.
        Assert.Equal(SharedLeaseStatus.Granted, (await store.TryAcquireLeaseAsync(Key, 1, "b", TimeSpan.FromMinutes(1), default)).Status);
    }

    [Fact]
    public async Task Publish_ByAStaleHolderWhoseLeaseExpired_CannotOverwriteTheNewerVersion()
    {
        var store = await CreateStoreAsync();
        Assert.Null(await StaleHolderViolationAsync(store, () => ExpireLeaseAsync(store, Key)));
    }

    /// <summary>
    /// R2, the fence: A's lease expires mid-exchange, B takes the lease at the same version and publishes; A's late
    /// publication must be refused, so the record keeps B's token set (and B's refresh token). Returns what went
    /// wrong, or null. Shared with the seeded-bug test that must see it go wrong.
    /// </summary>
    internal static async Task<string?> StaleHolderViolationAsync(ISharedTokenStore store, Func<Task> expireLease)
    {
        var a = await store.TryAcquireLeaseAsync(Key, 0, "a", TimeSpan.FromSeconds(30), default);
        if ((await store.TryAcquireLeaseAsync(Key, 0, "b", TimeSpan.FromSeconds(30), default)).Status != SharedLeaseStatus.Held)
        {
            return "b was not kept out while a's lease was live";
        }

        await expireLease();
        var b = await store.TryAcquireLeaseAsync(Key, 0, "b", TimeSpan.FromSeconds(30), default);
        if (b.Status != SharedLeaseStatus.Granted)
        {
            return "b did not get the expired lease";
        }

        if (await store.PublishAsync(Key, b, Value("TB"), default) != new SharedPublishResult(true, 1))
        {
            return "b's publication failed";
        }

        var late = await store.PublishAsync(Key, a, Value("TA"), default);
        var record = await store.ReadAsync(Key, default);
        if (late.IsPublished || record is not { Version: 1 } || record.Value.Fingerprint != "fp-TB" || record.IsRetired)
        {
            return $"the stale holder's publication {(late.IsPublished ? "overwrote" : "changed")} the newer version (record v{record?.Version}, {record?.Value.Fingerprint})";
        }

        return null;
    }

    [Fact]
    public async Task Publish_ByAHolderWhoseLeaseExpiredButNobodyPublished_Succeeds()
    {
        // The version, not the lease, decides: the exchanged token set (whose refresh token was spent) is not lost.
        var store = await CreateStoreAsync();
        var a = await store.TryAcquireLeaseAsync(Key, 0, "a", TimeSpan.FromSeconds(30), default);
        await ExpireLeaseAsync(store, Key);
        Assert.True((await store.PublishAsync(Key, a, Value("TA"), default)).IsPublished);
    }

    [Fact]
    public async Task InvalidateIf_RetiresOnlyWhileTheRecordStillHoldsThatToken()
    {
        // R3: conditional invalidation; the version is unchanged (the retired record's refresh token is the next one to use).
        var store = await CreateStoreAsync();
        Assert.False(await store.InvalidateIfAsync(Key, "fp-T1", default)); // no record
        var lease = await store.TryAcquireLeaseAsync(Key, 0, "a", TimeSpan.FromSeconds(30), default);
        await store.PublishAsync(Key, lease, Value("T1"), default);

        Assert.False(await store.InvalidateIfAsync(Key, "fp-T0", default)); // a stale 401 for an older token
        Assert.False((await store.ReadAsync(Key, default))!.IsRetired);
        Assert.True(await store.InvalidateIfAsync(Key, "fp-T1", default));
        Assert.False(await store.InvalidateIfAsync(Key, "fp-T1", default)); // the 63 others of 64 concurrent 401s
        var record = await store.ReadAsync(Key, default);
        Assert.True(record!.IsRetired);
        Assert.Equal(1, record.Version);

        // A retired record is succeeded like any other: lease at its version, publish.
        var next = await store.TryAcquireLeaseAsync(Key, 1, "b", TimeSpan.FromSeconds(30), default);
        Assert.Equal(SharedLeaseStatus.Granted, next.Status);
        Assert.Equal(new SharedPublishResult(true, 2), await store.PublishAsync(Key, next, Value("T2"), default));
    }

    [Fact]
    public async Task WaitForChange_IsWokenByThePublication()
    {
        // R4: a waiter is woken by the notification, long before its bound.
        var store = await CreateStoreAsync();
        var lease = await store.TryAcquireLeaseAsync(Key, 0, "a", TimeSpan.FromSeconds(30), default);
        var wait = store.WaitForChangeAsync(Key, 0, TimeSpan.FromMinutes(10), default).AsTask();
        await store.PublishAsync(Key, lease, Value("T1"), default);
        await wait.Within(TimeSpan.FromSeconds(20));
        Assert.Equal(1, (await store.ReadAsync(Key, default))!.Version);
    }

    [Fact]
    public async Task WaitForChange_ReturnsAtOnceWhenTheVersionAlreadyMoved()
    {
        var store = await CreateStoreAsync();
        var lease = await store.TryAcquireLeaseAsync(Key, 0, "a", TimeSpan.FromSeconds(30), default);
        await store.PublishAsync(Key, lease, Value("T1"), default);
        await store.WaitForChangeAsync(Key, 0, TimeSpan.FromMinutes(10), default).AsTask().Within(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task RegistrationRecord_ConcurrentFirstLeases_ExactlyOneGranted_NoExpiry_RetiredOnlyForItsClientId()
    {
        // The shared client registration (issue 13) uses the same transitions: of K replicas asking at once for the
        // first lease exactly one registers; the record has no expiry of its own; invalid_client retires it only while
        // it still holds the rejected client ID, and the successor registration is published at the next version.
        var store = await CreateStoreAsync();
        const string key = "oauth.client:registration";
        var leases = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => store.TryAcquireLeaseAsync(key, 0, "replica-" + i, TimeSpan.FromMinutes(1), default).AsTask())));
        var granted = Assert.Single(leases, l => l.Status == SharedLeaseStatus.Granted);
        Assert.All(leases.Where(l => l.Status != SharedLeaseStatus.Granted), l => Assert.Equal(SharedLeaseStatus.Held, l.Status));

        var c1 = new SharedTokenValue(new byte[] { 9, 9 }, "client-fp-C1", expiresAt: null);
        Assert.Equal(new SharedPublishResult(true, 1), await store.PublishAsync(key, granted, c1, default));
        var record = await store.ReadAsync(key, default);
        Assert.Null(record!.Value.ExpiresAt);
        Assert.Equal("client-fp-C1", record.Value.Fingerprint);

        Assert.False(await store.InvalidateIfAsync(key, "client-fp-C0", default)); // a retirement of an older client
        Assert.True(await store.InvalidateIfAsync(key, "client-fp-C1", default));
        var successor = await store.TryAcquireLeaseAsync(key, 1, "replica-3", TimeSpan.FromMinutes(1), default);
        Assert.Equal(SharedLeaseStatus.Granted, successor.Status);
        Assert.Equal(new SharedPublishResult(true, 2), await store.PublishAsync(key, successor, new SharedTokenValue(new byte[] { 8 }, "client-fp-C2", null), default));
        Assert.False(await store.InvalidateIfAsync(key, "client-fp-C1", default)); // another replica's late invalid_client for C1
        Assert.False((await store.ReadAsync(key, default))!.IsRetired);
    }

    [Fact]
    public async Task ReleaseLease_OnlyTheHoldersOwn_LetsTheNextReplicaIn()
    {
        var store = await CreateStoreAsync();
        var a = await store.TryAcquireLeaseAsync(Key, 0, "a", TimeSpan.FromMinutes(1), default);
        await store.ReleaseLeaseAsync(Key, SharedLease.Granted(0, "someone-else"), default);
        Assert.Equal(SharedLeaseStatus.Held, (await store.TryAcquireLeaseAsync(Key, 0, "b", TimeSpan.FromMinutes(1), default)).Status);
        await store.ReleaseLeaseAsync(Key, a, default);
        Assert.Equal(SharedLeaseStatus.Granted, (await store.TryAcquireLeaseAsync(Key, 0, "b", TimeSpan.FromMinutes(1), default)).Status);
    }
}

public sealed class InMemorySharedTokenStoreTests : SharedTokenStoreContract
{
    private readonly FakeTimeProvider _time = new();

    protected override Task<ISharedTokenStore> CreateStoreAsync() => Task.FromResult<ISharedTokenStore>(new InMemorySharedTokenStore(_time));

    protected override Task ExpireLeaseAsync(ISharedTokenStore store, string key)
    {
        _time.Advance(TimeSpan.FromMinutes(2));
        return Task.CompletedTask;
    }
}

public sealed class RedisSharedTokenStoreTests(RedisServerFixture fixture) : SharedTokenStoreContract, IClassFixture<RedisServerFixture>, IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    protected override async Task<ISharedTokenStore> CreateStoreAsync()
    {
        var redis = await fixture.Server.ConnectAsync();
        var store = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = "contract:" + Guid.NewGuid().ToString("N") });
        _owned.Add(store);
        _owned.Add(redis);
        return store;
    }

    // The lease's TTL runs on the server's clock: deleting the key is its expiry, without waiting for it.
    protected override async Task ExpireLeaseAsync(ISharedTokenStore store, string key)
    {
        var redis = (RedisSharedTokenStore)store;
        await using var admin = await fixture.Server.ConnectAsync();
        Assert.True(await admin.GetDatabase().KeyDeleteAsync(redis.LeaseKey(key)));
    }

    [Fact]
    public async Task EveryKey_HasATimeToLive()
    {
        // R5: the lease expires after its TTL, the record after RecordTimeToLive (renewed by each publication).
        await using var redis = await fixture.Server.ConnectAsync();
        var store = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = "ttl:" + Guid.NewGuid().ToString("N"), RecordTimeToLive = TimeSpan.FromHours(2) });
        var lease = await store.TryAcquireLeaseAsync(Key, 0, "a", TimeSpan.FromSeconds(30), default);
        var db = redis.GetDatabase();
        var leaseTtl = await db.KeyTimeToLiveAsync(store.LeaseKey(Key));
        Assert.True(leaseTtl > TimeSpan.Zero && leaseTtl <= TimeSpan.FromSeconds(30), $"lease TTL {leaseTtl}");
        await store.PublishAsync(Key, lease, Value("T1"), default);
        var recordTtl = await db.KeyTimeToLiveAsync(store.RecordKey(Key));
        Assert.True(recordTtl > TimeSpan.FromHours(1.9) && recordTtl <= TimeSpan.FromHours(2), $"record TTL {recordTtl}");
        await store.InvalidateIfAsync(Key, "fp-T1", default);
        Assert.True(await db.KeyTimeToLiveAsync(store.RecordKey(Key)) > TimeSpan.FromHours(1.9), "invalidation keeps the record's TTL");

        var server = redis.GetServer(redis.GetEndPoints()[0]);
        await foreach (var k in server.KeysAsync(pattern: "ttl:*"))
        {
            Assert.True(await db.KeyTimeToLiveAsync(k) is not null, $"{k} has no TTL");
        }
    }

    [Fact]
    public async Task RecordWithoutExpiry_AClientRegistration_StillHasATimeToLive()
    {
        // A shared client registration has no expiry of its own; its Redis key still expires RecordTimeToLive after
        // its last publication (a replica that finds none registers again, once, under the lease).
        await using var redis = await fixture.Server.ConnectAsync();
        var store = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = "ttl:" + Guid.NewGuid().ToString("N"), RecordTimeToLive = TimeSpan.FromHours(3) });
        var lease = await store.TryAcquireLeaseAsync(Key, 0, "a", TimeSpan.FromSeconds(30), default);
        await store.PublishAsync(Key, lease, new SharedTokenValue(new byte[] { 1 }, "client-fp", expiresAt: null), default);
        var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(store.RecordKey(Key));
        Assert.True(ttl > TimeSpan.FromHours(2.9) && ttl <= TimeSpan.FromHours(3), $"record TTL {ttl}");
        Assert.Null((await store.ReadAsync(Key, default))!.Value.ExpiresAt);
    }

    [Fact]
    public void Options_AreValidated_AndTheMessageNamesTheOption()
    {
        var missing = Assert.Throws<ArgumentException>(() => new RedisSharedTokenStore(null!, new RedisSharedTokenStoreOptions()));
        Assert.Contains("RedisSharedTokenStoreOptions.KeyPrefix", missing.Message, StringComparison.Ordinal);
        var bad = Assert.Throws<ArgumentException>(() => new RedisSharedTokenStore(null!, new RedisSharedTokenStoreOptions { KeyPrefix = "a b" }));
        Assert.Contains("KeyPrefix", bad.Message, StringComparison.Ordinal);
        var ttl = Assert.Throws<ArgumentException>(() => new RedisSharedTokenStore(null!, new RedisSharedTokenStoreOptions { KeyPrefix = "a", RecordTimeToLive = TimeSpan.Zero }));
        Assert.Contains("RedisSharedTokenStoreOptions.RecordTimeToLive", ttl.Message, StringComparison.Ordinal);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }
}
