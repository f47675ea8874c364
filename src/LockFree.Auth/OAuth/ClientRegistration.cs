namespace LockFree.Auth.OAuth;

/// <summary>The client identity used with one authorization server.</summary>
/// <param name="ClientId">The client ID.</param>
/// <param name="ClientSecret">The client secret, if any (a secret: not part of <see cref="ToString"/>).</param>
/// <param name="TokenEndpointAuthMethod">How the client authenticates at the token endpoint.</param>
/// <remarks>Concurrency: immutable.</remarks>
public sealed record ClientRegistration(string ClientId, string? ClientSecret, string TokenEndpointAuthMethod)
{
    /// <summary>Describes the registration without the secret.</summary>
    public override string ToString() =>
        $"ClientRegistration {{ ClientId = {ClientId}, TokenEndpointAuthMethod = {TokenEndpointAuthMethod}, ClientSecret = {(ClientSecret is null ? "(none)" : "[redacted]")} }}";
}
