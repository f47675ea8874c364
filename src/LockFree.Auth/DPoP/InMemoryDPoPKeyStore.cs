namespace LockFree.Auth.DPoP;

/// <summary>
/// The default <see cref="IDPoPKeyStore"/>: one key held in memory for the store's lifetime, by default a new EC P-256
/// key (<c>ES256</c>). Tokens bound to it do not survive the process; persist the key (and implement
/// <see cref="IDPoPKeyStore"/>) to keep DPoP-bound tokens across runs.
/// </summary>
/// <remarks>Concurrency: immutable; <see cref="GetKeyAsync"/> returns the same key to every caller without allocating.</remarks>
public sealed class InMemoryDPoPKeyStore : IDPoPKeyStore
{
    /// <summary>Creates a store with a new EC P-256 key.</summary>
    public InMemoryDPoPKeyStore()
        : this(DPoPKey.CreateEcP256())
    {
    }

    /// <summary>Creates a store holding <paramref name="key"/>.</summary>
    public InMemoryDPoPKeyStore(DPoPKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Key = key;
    }

    /// <summary>The key.</summary>
    public DPoPKey Key { get; }

    /// <inheritdoc />
    public ValueTask<DPoPKey> GetKeyAsync(CancellationToken cancellationToken) => new(Key);
}
