using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// One replica (pod, process) of a client: its own Redis connection and store, its own
/// <see cref="SharedTokenAcquisition"/> and its own coordinator, sharing only the Redis server and the token server.
/// </summary>
internal sealed class Replica : IAsyncDisposable
{
    public const string Key = "client-a";

    private Replica(ConnectionMultiplexer? redis, ISharedTokenStore store, SharedTokenAcquisition shared, AuthCoordinator<TokenContainer> coordinator)
    {
        Redis = redis;
        Store = store;
        Shared = shared;
        Coordinator = coordinator;
    }

    public ConnectionMultiplexer? Redis { get; }

    public ISharedTokenStore Store { get; }

    public SharedTokenAcquisition Shared { get; }

    public AuthCoordinator<TokenContainer> Coordinator { get; }

    public static SharedTokenOptions DefaultOptions(ILoggerFactory? logs = null) => new()
    {
        Protector = new AesGcmSharedTokenProtector(TestKey),
        LoggerFactory = logs,
    };

    public static byte[] TestKey { get; } = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    public static async Task<Replica> StartAsync(
        RedisServer server, string prefix, RotatingTokenServer tokens, TimeProvider? time = null, SharedTokenOptions? options = null)
    {
        var redis = await server.ConnectAsync();
        var store = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = prefix }, time);
        return Create(redis, store, tokens, time, options);
    }

    public static Replica InMemory(ISharedTokenStore store, RotatingTokenServer tokens, TimeProvider? time = null, SharedTokenOptions? options = null) =>
        Create(null, store, tokens, time, options);

    private static Replica Create(ConnectionMultiplexer? redis, ISharedTokenStore store, RotatingTokenServer tokens, TimeProvider? time, SharedTokenOptions? options)
    {
        var shared = new SharedTokenAcquisition(store, Key, tokens.ExchangeAsync, options ?? DefaultOptions(), time);
        var coordinator = new AuthCoordinator<TokenContainer>(shared.AcquireAsync, static t => t.ExpiresAt, time);
        return new Replica(redis, store, shared, coordinator);
    }

    /// <summary><paramref name="callers"/> concurrent callers on the thread pool; every result.</summary>
    public Task<TokenContainer[]> StormAsync(int callers) =>
        Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(() => Coordinator.GetAsync())));

    /// <summary>What a 401 for <paramref name="rejected"/> does: the coordinator's conditional invalidation and the shared one.</summary>
    public async Task<bool> RejectAsync(TokenContainer rejected)
    {
        Coordinator.Invalidate(static (value, r) => value.AccessToken == r.AccessToken, rejected);
        return await Shared.InvalidateIfAsync(rejected);
    }

    public async ValueTask DisposeAsync()
    {
        Coordinator.Dispose();
        if (Store is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }
}
