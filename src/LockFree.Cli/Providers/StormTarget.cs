namespace LockFree.Cli.Providers;

/// <summary>Where the storm runs: the embedded servers or a real authorization server and resource.</summary>
/// <param name="Resource">The protected resource every client calls.</param>
/// <param name="Authority">The authorization server (issuer) URL.</param>
/// <param name="ClientId">The OAuth client.</param>
/// <param name="ClientSecret">Its secret (never printed).</param>
/// <param name="Scope">Requested scope, if any.</param>
/// <param name="IdpTokenEndpoint">Cross-app access: the enterprise IdP's token endpoint.</param>
/// <param name="IdpClientId">Cross-app access: the client at the IdP.</param>
/// <param name="IdpClientSecret">Cross-app access: its secret at the IdP (never printed).</param>
/// <param name="IdToken">Cross-app access: the user's ID token (never printed).</param>
internal sealed record StormTarget(
    Uri Resource,
    Uri Authority,
    string ClientId,
    string? ClientSecret,
    string? Scope,
    Uri? IdpTokenEndpoint,
    string? IdpClientId,
    string? IdpClientSecret,
    string? IdToken)
{
    /// <summary>Describes the target without any secret.</summary>
    public override string ToString() => $"StormTarget {{ Resource = {Resource}, Authority = {Authority}, ClientId = {ClientId} }}";
}
