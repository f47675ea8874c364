namespace LockFree.Auth.OAuth;

/// <summary>
/// The <see cref="ClientOAuthProvider"/>'s own snapshot (immutable; replaced only by CAS on the provider's one
/// <see cref="AuthCell{TState}"/>): which scope set's token requests use, and the latest metadata hint.
/// </summary>
internal sealed record ProviderState(AuthCoordinator<TokenEntry>? Active, ScopeSet? ActiveScopeSet, string? MetadataHint)
{
    internal static ProviderState Initial { get; } = new(null, null, null);

    internal IReadOnlyList<string> ActiveScopes => ActiveScopeSet?.Scopes ?? [];
}
