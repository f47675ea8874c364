namespace LockFree.Auth.OAuth;

/// <summary>
/// The <see cref="ClientOAuthProvider"/>'s own snapshot (immutable; replaced only by CAS on the provider's one
/// <see cref="AuthCell{TState}"/>): which scope set's token requests use, the latest metadata hint, and the R1
/// fresh-rejection count (its transitions are <see cref="RejectionPolicy"/>'s).
/// </summary>
internal sealed record ProviderState(AuthCoordinator<TokenEntry>? Active, ScopeSet? ActiveScopeSet, string? MetadataHint)
{
    internal static ProviderState Initial { get; } = new(null, null, null);

    /// <summary>R1: how many tokens in a row the resource rejected before ever accepting them.</summary>
    internal int FreshRejections { get; init; }

    /// <summary>R1: the last token counted in <see cref="FreshRejections"/> (reference identity).</summary>
    internal TokenEntry? LastFreshRejection { get; init; }

    /// <summary>R1: before this instant a rejection of another never-accepted token starts no exchange.</summary>
    internal DateTimeOffset RetryFreshRejectionAt { get; init; }

    internal IReadOnlyList<string> ActiveScopes => ActiveScopeSet?.Scopes ?? [];
}
