namespace LockFree.Auth.Extensions;

/// <summary>
/// The clients registered with <see cref="ClientCredentialsTokenManagementBuilder.AddClient(string, Action{LockFree.Auth.ClientCredentials.ClientCredentialsClientOptions})"/>
/// and its configuration overload, built as options (each <c>AddClient</c> adds one configure action), so registering
/// twice is harmless and the container builds it once.
/// </summary>
/// <remarks>Concurrency: filled while the container is built; read-only afterwards.</remarks>
internal sealed class ClientRegistry
{
    /// <summary>Each client's name, and the configuration path its options were bound from (with the separator), or <see langword="null"/> when they were set in code.</summary>
    public Dictionary<string, string?> KeyPrefixes { get; } = new(StringComparer.Ordinal);
}
