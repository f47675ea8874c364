namespace LockFree.Auth;

/// <summary>
/// Where an evicted <see cref="AuthCoordinator{T}"/> sends the callers that still hold it: the current coordinator of
/// its key in the <see cref="AuthCoordinatorMap{TKey, T}"/> that evicted it.
/// </summary>
/// <typeparam name="T">The cached value type.</typeparam>
/// <remarks>Concurrency: both members are lock-free; they read the map's state (and <see cref="Resolve"/> may add the key back).</remarks>
internal interface ICoordinatorHome<T> where T : class
{
    /// <summary>The key's current coordinator, created if the key is no longer in the map.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    AuthCoordinator<T> Resolve();

    /// <summary>The key's current coordinator if the key is in the map (and the map is not disposed), else <see langword="null"/>.</summary>
    AuthCoordinator<T>? TryResolveExisting();
}
