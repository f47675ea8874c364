using LockFree.Auth;
using LockFree.Auth.ClientCredentials;
using LockFree.Auth.OAuth;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Turns on token sharing between replicas (issue 13, <c>spec/distributed.md</c>) for every <see cref="ClientOAuthProvider"/>
/// registered with <c>AddClientOAuthProvider</c> and every client-credentials client registered with
/// <c>AddClientCredentialsTokenManagement().AddClient</c>: each one takes the <see cref="ISharedTokenStore"/> of the
/// container (for example <c>AddRedisSharedTokenStore</c> of the LockFree.Auth.Redis package).
/// </summary>
/// <remarks>
/// <para>
/// It post-configures the options of each provider and client whose <c>SharedTokens</c> is not set: a
/// <see cref="TokenSharing"/> over the container's store, with the registration's name as its identity (the same in
/// every replica that runs the same registrations) and the <see cref="SharedTokenOptions"/> set by
/// <c>configure</c> (a <see cref="SharedTokenOptions.Protector"/> is required unless
/// <see cref="SharedTokenOptions.StorePlainText"/> is set; <see cref="SharedTokenOptions.Name"/> defaults to the
/// registration's name). A <c>SharedTokens</c> set in code is kept. Cross-app access providers are not touched: their
/// identity is the user, which only the application knows (set <c>CrossApplicationAccessProviderOptions.SharedTokens</c>).
/// </para>
/// <para>Concurrency: call while building the service collection; what it registers is thread-safe.</para>
/// </remarks>
public static class SharedTokensServiceCollectionExtensions
{
    /// <summary>Shares the tokens of the registered providers and client-credentials clients through the container's <see cref="ISharedTokenStore"/>.</summary>
    /// <param name="services">The service collection (an <see cref="ISharedTokenStore"/> must be registered too).</param>
    /// <param name="configure">Sets the sharing options: at least <see cref="SharedTokenOptions.Protector"/> (for example <c>new AesGcmSharedTokenProtector(key)</c>).</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentException">The options <paramref name="configure"/> sets are unusable (the message names the option).</exception>
    public static IServiceCollection AddSharedTokens(this IServiceCollection services, Action<SharedTokenOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);

        // Validated now, so a missing protector fails where it was configured rather than at the first token.
        _ = new TokenSharing(new InMemorySharedTokenStore(), "validation", Configure(configure, "validation"));
        services.AddOptions();
        services.AddSingleton<IPostConfigureOptions<ClientOAuthOptions>>(provider => new ShareTokens<ClientOAuthOptions>(
            provider, configure, static o => o.SharedTokens is not null, static (o, sharing) => o.SharedTokens = sharing));
        services.AddSingleton<IPostConfigureOptions<ClientCredentialsClientOptions>>(provider => new ShareTokens<ClientCredentialsClientOptions>(
            provider, configure, static o => o.SharedTokens is not null, static (o, sharing) => o.SharedTokens = sharing));
        return services;
    }

    private static SharedTokenOptions Configure(Action<SharedTokenOptions> configure, string name)
    {
        var options = new SharedTokenOptions { Name = name };
        configure(options);
        return options;
    }

    /// <summary>Sets <c>SharedTokens</c> of the named options that have none.</summary>
    private sealed class ShareTokens<TOptions>(
        IServiceProvider services, Action<SharedTokenOptions> configure, Func<TOptions, bool> isSet, Action<TOptions, TokenSharing> set) : IPostConfigureOptions<TOptions>
        where TOptions : class
    {
        public void PostConfigure(string? name, TOptions options)
        {
            if (isSet(options))
            {
                return;
            }

            var identity = string.IsNullOrEmpty(name) ? "default" : name;
            var store = services.GetService<ISharedTokenStore>() ?? throw new InvalidOperationException(
                "AddSharedTokens needs an ISharedTokenStore in the container: call services.AddRedisSharedTokenStore(…) (package LockFree.Auth.Redis) or register one.");
            set(options, new TokenSharing(store, identity, Configure(configure, identity)));
        }
    }
}
