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
/// The map itself is one immutable state in an <see cref="AuthCell{TState}"/>: a dictionary for lookups and a flat
/// array of the same coordinators for walks (<see cref="InvalidateAll"/> touches no enumerator, so it stays cheap on
/// a cold thread). Adding a key is one compare-and-swap. Keys are kept for the lifetime of the map (a provider has few).
/// </para>
/// <para>
/// Concurrency: lock-free; <see cref="For"/> is a read of the cell plus a dictionary lookup once the key exists.
/// <see cref="InvalidateAll"/> invalidates each key's coordinator; it is atomic per key, not across keys, and never blocks.
/// </para>
/// </remarks>
public sealed class AuthCoordinatorMap<TKey, T> : IDisposable where TKey : notnull where T : class
{
    private readonly AuthCell<State> _map = new(State.Empty);
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
        return map.ByKey.TryGetValue(key, out var existing) ? existing : Add(key);
    }

    /// <summary>The coordinators that exist now.</summary>
    public IEnumerable<KeyValuePair<TKey, AuthCoordinator<T>>> Entries => _map.Current.ByKey;

    /// <summary>Invalidates every key's coordinator. Never blocks.</summary>
    public void InvalidateAll()
    {
        foreach (var coordinator in _map.Current.All)
        {
            coordinator.Invalidate();
        }
    }

    /// <summary>Disposes every coordinator.</summary>
    public void Dispose()
    {
        foreach (var coordinator in _map.Current.All)
        {
            coordinator.Dispose();
        }
    }

    private AuthCoordinator<T> Add(TKey key)
    {
        var created = _factory(key);
        while (true)
        {
            var map = _map.Current;
            if (map.ByKey.TryGetValue(key, out var existing))
            {
                // Another caller added it first; ours never started anything, so dropping it is safe.
                return existing;
            }

            if (_map.TryReplace(map, map.With(key, created)))
            {
                return created;
            }
        }
    }

    /// <summary>The map's immutable state: lookups by key, and the same coordinators in insertion order.</summary>
    private sealed class State(ImmutableDictionary<TKey, AuthCoordinator<T>> byKey, AuthCoordinator<T>[] all)
    {
        public static State Empty { get; } = new(ImmutableDictionary<TKey, AuthCoordinator<T>>.Empty, []);

        public ImmutableDictionary<TKey, AuthCoordinator<T>> ByKey { get; } = byKey;

        // Never mutated after construction: With copies it.
        public AuthCoordinator<T>[] All { get; } = all;

        public State With(TKey key, AuthCoordinator<T> coordinator) => new(ByKey.Add(key, coordinator), [.. All, coordinator]);
    }
}
