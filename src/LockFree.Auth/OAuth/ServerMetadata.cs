using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>What discovery produced for one protected resource (immutable, shared).</summary>
internal sealed record ServerMetadata(
    ProtectedResourceMetadata? ResourceMetadata,
    Uri? Resource,
    Uri Issuer,
    AuthorizationServerMetadata? AuthorizationServer,
    Uri AuthorizationEndpoint,
    Uri TokenEndpoint,
    Uri? RegistrationEndpoint)
{
    /// <summary>The issuer exactly as the metadata spelled it (RFC 9207 compares strings, without normalization).</summary>
    internal string IssuerText => AuthorizationServer?.Issuer.OriginalString ?? Issuer.OriginalString;

    /// <summary>Where the token requests of this discovery go (token endpoint, issuer, resource indicator).</summary>
    internal TokenGrantTarget GrantTarget => new(TokenEndpoint, Issuer, Resource, AuthorizationServer?.TokenEndpointAuthSigningAlgValuesSupported);
}
