using LockFree.Auth.Diagnostics;
using LockFree.Auth.Protocol;
using Microsoft.Extensions.Logging;

namespace LockFree.Auth.CrossAppAccess;

/// <summary>
/// RFC 9728 protected resource metadata for <see cref="CrossApplicationAccessHandler"/>, per (back channel, resource,
/// discovery location), found with <see cref="ProtectedResourceDiscovery"/> as the OAuth provider finds it. Each entry is
/// discovered once and shared by every request waiting for it (coalesced on the core); it never expires and is re-read
/// only after a <c>401</c> retired it (conditionally, I4). Bounded by the provider's <c>CacheCapacity</c>.
/// </summary>
/// <remarks>Concurrency: thread-safe; all state is in one <see cref="AuthCoordinatorMap{TKey, T}"/>.</remarks>
internal sealed class ResourceMetadataCache : IDisposable
{
    private readonly AuthCoordinatorMap<Key, ResourceMetadataDiscovery> _entries;

    internal ResourceMetadataCache(TimeProvider time, int capacity, ILoggerFactory? loggerFactory, AuthInstruments instruments)
    {
        var options = new AuthCoordinatorOptions { Name = "cross-app.resource-metadata", LoggerFactory = loggerFactory, Instruments = instruments };
        _entries = new AuthCoordinatorMap<Key, ResourceMetadataDiscovery>(
            key => new AuthCoordinator<ResourceMetadataDiscovery>((_, ct) => DiscoverAsync(key, ct), null, time, options),
            capacity);
    }

    /// <summary>The metadata of <paramref name="serverUrl"/> found at <paramref name="location"/> (empty: the well-known locations); the caller's token cancels only its own wait.</summary>
    internal Task<ResourceMetadataDiscovery> GetAsync(IBackChannel backChannel, Uri serverUrl, string location, CancellationToken cancellationToken) =>
        _entries.For(new Key(backChannel, serverUrl, location)).GetAsync(cancellationToken);

    /// <summary>Forgets the entry only if it still holds <paramref name="used"/> (a stale <c>401</c> does not retire newer metadata).</summary>
    internal void Retire(IBackChannel backChannel, Uri serverUrl, string location, ResourceMetadataDiscovery used) =>
        _entries.TryGet(new Key(backChannel, serverUrl, location))?.Invalidate(static (current, used) => ReferenceEquals(current, used), used);

    /// <inheritdoc/>
    public void Dispose() => _entries.Dispose();

    private static async Task<ResourceMetadataDiscovery> DiscoverAsync(Key key, CancellationToken cancellationToken)
    {
        var hint = key.Location.Length == 0 ? null : new Uri(key.Location);
        if (hint is not null && !UriOrigin.IsSame(hint, key.ServerUrl))
        {
            // T6 (spec/security.md): only a hint on the resource's own origin is followed, whoever passed it here.
            hint = null;
        }

        var metadata = await ProtectedResourceDiscovery.DiscoverAsync(key.BackChannel, key.ServerUrl, hint, onSkipped: null, cancellationToken).ConfigureAwait(false);
        return new ResourceMetadataDiscovery(metadata);
    }

    /// <summary>
    /// The key of an entry: the back channel it is read through (each handler has its own, compared by
    /// reference), the resource, and the discovery location (empty: the well-known locations).
    /// </summary>
    private readonly record struct Key(IBackChannel BackChannel, Uri ServerUrl, string Location);
}
