using System.Collections.Immutable;

namespace LockFree.Auth;

/// <summary>
/// One <see cref="AuthCoordinator{T}"/> per key (for example resource + authorization server + scope set), so
/// different keys never share a value and never wait for each other's work (I8).
/// </summary>
/// <typeparam name="TKey">The key type; compared with its default equality.</typeparam>
/// <typeparam name="T">The cached value type.</typeparam>
/// <remarks>
/// <para>
/// The map itself is an immutable dictionary in an <see cref="AuthCell{TState}"/>; adding a key is one
/// compare-and-swap. Keys are kept for the lifetime of the map (a provider has few).
/// </para>
/// <para>
/// Concurrency: lock-free; <see cref="For"/> is a read of the cell plus a dictionary lookup once the key exists.
/// <see cref="InvalidateAll"/> invalidates each key's coordinator; it is atomic per key, not across keys.
/// </para>
/// </remarks>
public sealed class AuthCoordinatorMap<TKey, T> : IDisposable where TKey : notnull where T : class
{
    private readonly AuthCell<ImmutableDictionary<TKey, AuthCoordinator<T>>> _map = new(ImmutableDictionary<TKey, AuthCoordinator<T>>.Empty);
    private readonly Func<TKey, AuthCoordinator<T>> _factory;

    /// <summary>Creates a map whose coordinators are made by <paramref name="factory"/> (it must be free of side effects: it may run for a key more than once, and only one result is kept).</summary>
    public AuthCoordinatorMap(Func<TKey, AuthCoordinator<T>> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _factory = factory;
    }

    /// <summary>The coordinator of <paramref name="key"/>, created on first use.</summary>
    public AuthCoordinator<T> For(TKey key)
    {
        var map = _map.Current;
        return map.TryGetValue(key, out var existing) ? existing : Add(key);
    }

    /// <summary>The coordinators that exist now.</summary>
    public IEnumerable<KeyValuePair<TKey, AuthCoordinator<T>>> Entries => _map.Current;

    /// <summary>Invalidates every key's coordinator. Never blocks.</summary>
    public void InvalidateAll()
    {
        foreach (var entry in _map.Current)
        {
            entry.Value.Invalidate();
        }
    }

    /// <summary>Disposes every coordinator.</summary>
    public void Dispose()
    {
        foreach (var entry in _map.Current)
        {
            entry.Value.Dispose();
        }
    }

    private AuthCoordinator<T> Add(TKey key)
    {
        var created = _factory(key);
        while (true)
        {
            var map = _map.Current;
            if (map.TryGetValue(key, out var existing))
            {
                // Another caller added it first; ours never started anything, so dropping it is safe.
                return existing;
            }

            if (_map.TryReplace(map, map.Add(key, created)))
            {
                return created;
            }
        }
    }
}
