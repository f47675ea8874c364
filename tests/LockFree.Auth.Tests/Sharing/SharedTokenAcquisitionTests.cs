using System.Security.Cryptography;
using System.Text;
using LockFree.Auth.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.Sharing;

/// <summary>
/// <see cref="SharedTokenAcquisition"/> over the in-memory store, on a fake clock: the paths the Redis scenarios do not
/// pin down deterministically (spec/distributed.md). The Redis tests run the same protocol on a real server.
/// </summary>
public sealed class SharedTokenAcquisitionTests
{
    private const string Key = "client-a";
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(100);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task BackgroundRefresh_AdoptsWhatAnotherReplicaPublished_WithoutAnExchange()
    {
        var store = new InMemorySharedTokenStore(_time);
        var exchange = new Exchange(_time);
        using var a = Coordinator(store, exchange);
        using var b = Coordinator(store, exchange);
        var t1 = await a.GetAsync().Within();
        Assert.Equal(t1.AccessToken, (await b.GetAsync().Within()).AccessToken);
        Assert.Equal(1, exchange.Count);

        _time.Advance(TimeSpan.FromSeconds(81)); // refresh-ahead is due in both replicas (from 80 s of 100 s)
        Assert.Equal(t1.AccessToken, (await a.GetAsync().Within()).AccessToken); // served at once, refresh in the background
        var t2 = await EventuallyAsync(a, t => t.AccessToken != t1.AccessToken);
        Assert.Equal(2, exchange.Count);

        Assert.Equal(t1.AccessToken, (await b.GetAsync().Within()).AccessToken);
        Assert.Equal(t2.AccessToken, (await EventuallyAsync(b, t => t.AccessToken != t1.AccessToken)).AccessToken);
        Assert.Equal(2, exchange.Count); // B adopted A's refresh
        Assert.Equal([null, t1.RefreshToken], exchange.Presented);
    }

    [Fact]
    public async Task FailedExchange_ReleasesTheLease_SoOthersNeedNotWaitForItsTtl()
    {
        var store = new InMemorySharedTokenStore(_time);
        var exchange = new Exchange(_time) { FailNext = true };
        using var a = Coordinator(store, exchange);

        await Assert.ThrowsAsync<InvalidOperationException>(() => a.GetAsync().Within());

        var lease = await store.TryAcquireLeaseAsync(Key, 0, "other", TimeSpan.FromSeconds(30), default);
        Assert.Equal(SharedLeaseStatus.Granted, lease.Status);
    }

    [Fact]
    public async Task ExchangedToken_IsPublished_EvenWhenEveryWaiterLeft()
    {
        // The refresh token is spent once the exchange answered: its result must reach the store although the
        // coordinator cancelled the shared work (its only caller left).
        var store = new InMemorySharedTokenStore(_time);
        var exchange = new Exchange(_time) { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), IgnoreCancellation = true };
        using var a = Coordinator(store, exchange);
        using var leave = new CancellationTokenSource();
        var caller = a.GetAsync(leave.Token);
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => caller.Within());

        exchange.Gate.SetResult();
        await EventuallyAsync(async () => await store.ReadAsync(Key, default) is not null);
        Assert.Equal(1, (await store.ReadAsync(Key, default))!.Version);
    }

    [Fact]
    public async Task HolderSupersededAfterItsLeaseExpired_ReturnsTheNewerSharedToken_AndTheRecordKeepsIt()
    {
        using var logs = new RecordingLoggerFactory();
        var store = new InMemorySharedTokenStore(_time);
        var exchange = new Exchange(_time) { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        using var a = Coordinator(store, exchange, logs);
        var slow = a.GetAsync();
        await EventuallyAsync(() => Task.FromResult(exchange.Count == 1)); // A holds the lease and is exchanging

        _time.Advance(TimeSpan.FromSeconds(31)); // A's lease (30 s) expired; another replica takes over and publishes
        var other = await store.TryAcquireLeaseAsync(Key, 0, "other", TimeSpan.FromSeconds(30), default);
        Assert.Equal(SharedLeaseStatus.Granted, other.Status);
        var newer = Token("at-other", "rt-other");
        var protector = new AesGcmSharedTokenProtector(TestKey);
        await store.PublishAsync(Key, other, new SharedTokenValue(
            protector.Protect(SharedTokenPayload.Serialize(newer), Key), SharedTokenPayload.Fingerprint(newer.AccessToken), newer.ExpiresAt), default);

        exchange.Gate.SetResult();
        Assert.Equal("at-other", (await slow.Within()).AccessToken);
        var record = await store.ReadAsync(Key, default);
        Assert.Equal(1, record!.Version);
        Assert.Equal(SharedTokenPayload.Fingerprint("at-other"), record.Value.Fingerprint);
        Assert.Contains(logs.Records, r => r.EventId.Id == 5004);
    }

    [Fact]
    public async Task LeaseHeldByAnotherReplica_WaitsForItsNotification_ThenAdopts()
    {
        var store = new InMemorySharedTokenStore(_time);
        var holder = await store.TryAcquireLeaseAsync(Key, 0, "other", TimeSpan.FromSeconds(30), default);
        var exchange = new Exchange(_time);
        using var a = Coordinator(store, exchange);
        var waiting = a.GetAsync();
        Assert.False(waiting.IsCompleted);

        var published = Token("at-other", "rt-other");
        await store.PublishAsync(Key, holder, new SharedTokenValue(
            new AesGcmSharedTokenProtector(TestKey).Protect(SharedTokenPayload.Serialize(published), Key),
            SharedTokenPayload.Fingerprint(published.AccessToken), published.ExpiresAt), default);

        Assert.Equal("at-other", (await waiting.Within()).AccessToken); // no clock advanced: woken by the notification
        Assert.Equal(0, exchange.Count);
    }

    [Fact]
    public async Task CrashedHolder_NoNotificationEver_TheBoundedReReadTakesOverOnceItsLeaseExpired()
    {
        // The fallback: no notification comes (the holder crashed); the waiter re-reads every FallbackReadInterval of
        // the fake clock and takes the lease as soon as it has expired. Nothing happens while the clock stands still.
        var store = new InMemorySharedTokenStore(_time);
        await store.TryAcquireLeaseAsync(Key, 0, "crashed", TimeSpan.FromSeconds(30), default);
        var exchange = new Exchange(_time);
        using var a = Coordinator(store, exchange);
        var waiting = a.GetAsync();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        var advanced = TimeSpan.Zero;
        await EventuallyAsync(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            advanced += TimeSpan.FromSeconds(1);
            return Task.FromResult(waiting.IsCompleted);
        });

        await waiting.Within();
        Assert.Equal(1, exchange.Count);
        Assert.InRange(advanced, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(40));
    }

    [Fact]
    public async Task StoreDown_Degrade_NeverPresentsTheSharedRefreshToken_OnlyEachProcesssOwn_AndTheChainSurvives()
    {
        // R29: A exchanged and published t1 (refresh token rt-1), B adopted it; both hold rt-1. With the store down each
        // exchanges on its own: presenting rt-1 in both would be a reuse (a strict server revokes the chain). The
        // degraded exchanges use the configured grant; a token a process obtained while degraded is its own and is
        // refreshed with its own refresh token; after recovery the shared record's rt-1 is still unspent and is the one
        // exchanged. No refresh token is ever presented twice.
        using var logs = new RecordingLoggerFactory();
        var store = new OutageStore(new InMemorySharedTokenStore(_time));
        var exchange = new Exchange(_time);
        using var a = Coordinator(store, exchange, logs);
        using var b = Coordinator(store, exchange, logs);
        var t1 = await a.GetAsync().Within();
        Assert.Equal(t1.AccessToken, (await b.GetAsync().Within()).AccessToken);
        Assert.Equal(1, exchange.Count);

        store.Down = true;
        _time.Advance(TimeSpan.FromSeconds(81)); // refresh-ahead due in both: two degraded exchanges
        var a2 = await EventuallyAsync(a, t => t.AccessToken != t1.AccessToken);
        var b2 = await EventuallyAsync(b, t => t.AccessToken != t1.AccessToken);
        Assert.NotEqual(a2.AccessToken, b2.AccessToken);
        Assert.Equal([null, null, null], exchange.Presented); // rt-1 withheld by both: the configured grant
        Assert.Equal(2, logs.Records.Count(r => r.EventId.Id == 5011));

        _time.Advance(TimeSpan.FromSeconds(81)); // still down: each refreshes its own chain
        await EventuallyAsync(a, t => t.AccessToken != a2.AccessToken);
        await EventuallyAsync(b, t => t.AccessToken != b2.AccessToken);
        Assert.Equal(5, exchange.Count);
        Assert.Equal( // each presented its own degraded refresh token, nothing else
            new[] { a2.RefreshToken, b2.RefreshToken }.Order(StringComparer.Ordinal).ToArray(),
            exchange.Presented.Skip(3).Order(StringComparer.Ordinal).ToArray());

        store.Down = false;
        _time.Advance(TimeSpan.FromSeconds(81)); // recovered: one exchange for both, with the record's (unspent) rt-1
        var a4 = await EventuallyAsync(a, t => t.IsShared);
        var b4 = await EventuallyAsync(b, t => t.IsShared);
        Assert.Equal(a4.AccessToken, b4.AccessToken);
        Assert.Equal(6, exchange.Count);
        Assert.Equal(t1.RefreshToken, exchange.Presented[^1]);
        var presented = exchange.Presented.Where(p => p is not null).ToList();
        Assert.Equal(presented.Count, presented.Distinct(StringComparer.Ordinal).Count()); // no reuse, ever
    }

    [Fact]
    public void Payload_RoundTripsEveryField()
    {
        var token = Token("at", "rt") with { TokenType = "DPoP", Scope = "a b", Issuer = "https://as.example/" };
        Assert.Equal(token, SharedTokenPayload.Deserialize(SharedTokenPayload.Serialize(token)));
        var bare = new TokenContainer { AccessToken = "x", ObtainedAt = _time.GetUtcNow() };
        Assert.Equal(bare, SharedTokenPayload.Deserialize(SharedTokenPayload.Serialize(bare)));
    }

    [Fact]
    public void AesGcm_RoundTrips_AndRejectsTamperingAnotherKeyOrAnotherRecordKey()
    {
        var protector = new AesGcmSharedTokenProtector(TestKey);
        var plaintext = Encoding.UTF8.GetBytes("{\"at\":\"secret-access-token\"}");
        var sealedPayload = protector.Protect(plaintext, Key);
        Assert.DoesNotContain("secret-access-token", Encoding.Latin1.GetString(sealedPayload), StringComparison.Ordinal);
        Assert.Equal(plaintext, protector.Unprotect(sealedPayload, Key));
        Assert.NotEqual(sealedPayload, protector.Protect(plaintext, Key)); // a fresh nonce each time

        var tampered = (byte[])sealedPayload.Clone();
        tampered[^1] ^= 1;
        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(tampered, Key));
        Assert.ThrowsAny<CryptographicException>(() => new AesGcmSharedTokenProtector(new byte[32]).Unprotect(sealedPayload, Key));
        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(sealedPayload, "another-key"));
        Assert.Throws<ArgumentException>(() => new AesGcmSharedTokenProtector(new byte[20]));
    }

    private static byte[] TestKey { get; } = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private TokenContainer Token(string access, string refresh) => new()
    {
        AccessToken = access,
        RefreshToken = refresh,
        ObtainedAt = _time.GetUtcNow(),
        ExpiresIn = Lifetime,
    };

    private AuthCoordinator<TokenContainer> Coordinator(ISharedTokenStore store, Exchange exchange, RecordingLoggerFactory? logs = null)
    {
        var shared = new SharedTokenAcquisition(store, Key, exchange.RunAsync,
            new SharedTokenOptions { Protector = new AesGcmSharedTokenProtector(TestKey), LoggerFactory = logs }, _time);
        return new AuthCoordinator<TokenContainer>(shared.AcquireAsync, static t => t.ExpiresAt, _time);
    }

    private static async Task<TokenContainer> EventuallyAsync(AuthCoordinator<TokenContainer> coordinator, Func<TokenContainer, bool> condition)
    {
        TokenContainer? found = null;
        await EventuallyAsync(async () => condition(found = await coordinator.GetAsync().Within()));
        return found!;
    }

    // Bounded: background work completes on the thread pool; this only waits for it, never for the fake clock.
    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        var limit = DateTime.UtcNow + Bounded.Default;
        while (!await condition())
        {
            if (DateTime.UtcNow > limit)
            {
                throw new HangException("The condition did not hold within " + Bounded.Default);
            }

            await Task.Delay(5);
        }
    }

    /// <summary>A token endpoint with rotating refresh tokens: counts exchanges and records what each one presented.</summary>
    private sealed class Exchange(TimeProvider time)
    {
        private readonly List<string?> _presented = [];
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public IReadOnlyList<string?> Presented { get { lock (_presented) { return [.. _presented]; } } }

        public bool FailNext { get; set; }

        public bool IgnoreCancellation { get; set; }

        public TaskCompletionSource? Gate { get; set; }

        public async Task<TokenContainer> RunAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
        {
            var n = Interlocked.Increment(ref _count);
            lock (_presented) { _presented.Add(context.Previous?.RefreshToken); }
            if (Gate is { } gate)
            {
                await (IgnoreCancellation ? gate.Task : gate.Task.WaitAsync(cancellationToken));
            }

            if (FailNext)
            {
                FailNext = false;
                throw new InvalidOperationException("exchange failed");
            }

            return new TokenContainer { AccessToken = $"at-{n}", RefreshToken = $"rt-{n}", ObtainedAt = time.GetUtcNow(), ExpiresIn = Lifetime };
        }
    }
}
