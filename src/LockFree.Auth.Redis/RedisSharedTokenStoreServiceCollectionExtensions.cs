using LockFree.Auth;
using LockFree.Auth.Redis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers a <see cref="RedisSharedTokenStore"/> as the container's <see cref="ISharedTokenStore"/>; with
/// <c>AddSharedTokens</c> (package LockFree.Auth.Extensions) every registered provider and client-credentials client
/// then shares its tokens through it (<c>spec/dependency-injection.md</c>, "Sharing tokens between replicas").
/// </summary>
/// <remarks>
/// It lives in this package, not in LockFree.Auth.Extensions, so that the DI package never depends on Redis; it adds no
/// dependency here (Microsoft.Extensions.DependencyInjection.Abstractions is already one of
/// Microsoft.Extensions.Logging.Abstractions, which the core depends on). Concurrency: call while building the service
/// collection; the store it registers is thread-safe.
/// </remarks>
public static class RedisSharedTokenStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the store over the container's <see cref="IConnectionMultiplexer"/> (register it yourself, with
    /// <c>AbortOnConnectFail = false</c> and <c>BacklogPolicy.FailFast</c>; the store never disposes it).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the store's options (<see cref="RedisSharedTokenStoreOptions.KeyPrefix"/> is required); validated now.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentException">The options are unusable (the message names the option).</exception>
    public static IServiceCollection AddRedisSharedTokenStore(this IServiceCollection services, Action<RedisSharedTokenStoreOptions> configure) =>
        AddRedisSharedTokenStore(services, static provider => provider.GetService<IConnectionMultiplexer>() ?? throw new InvalidOperationException(
            "AddRedisSharedTokenStore needs an IConnectionMultiplexer in the container (for example services.AddSingleton<IConnectionMultiplexer>(ConnectionMultiplexer.Connect(configuration))), or pass one with the overload that takes a connection factory."),
            configure);

    /// <summary>Registers the store over the connection <paramref name="connection"/> returns (called once; the store never disposes it).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="connection">Returns the Redis connection.</param>
    /// <param name="configure">Sets the store's options (<see cref="RedisSharedTokenStoreOptions.KeyPrefix"/> is required); validated now.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentException">The options are unusable (the message names the option).</exception>
    public static IServiceCollection AddRedisSharedTokenStore(
        this IServiceCollection services, Func<IServiceProvider, IConnectionMultiplexer> connection, Action<RedisSharedTokenStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new RedisSharedTokenStoreOptions();
        configure(options);
        options.Validate();
        services.TryAddSingleton<ISharedTokenStore>(provider => new RedisSharedTokenStore(connection(provider), options, provider.GetService<TimeProvider>()));
        return services;
    }
}
