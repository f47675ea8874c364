using LockFree.Auth.Diagnostics;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.CrossAppAccess;

/// <summary>
/// Configuration of a <see cref="CrossApplicationAccessProvider"/>: the MCP client's registration at the resource's
/// authorization server, and its registration at the enterprise identity provider (IdP).
/// </summary>
/// <remarks>
/// <para>
/// Required: <see cref="ClientId"/>, <see cref="IdpClientId"/>, <see cref="IdTokenCallback"/>, and one of
/// <see cref="IdpUrl"/> / <see cref="IdpTokenEndpoint"/>. The provider's constructor throws
/// <see cref="ArgumentException"/> for the first invalid option; its <see cref="ArgumentException.ParamName"/> and its
/// message name the option as <c>CrossApplicationAccessProviderOptions.X</c> (for example
/// <c>CrossApplicationAccessProviderOptions.ClientId</c>).
/// </para>
/// <para>
/// Concurrency: the provider copies the options when it is constructed; later changes to this instance have no effect
/// on it. The instance itself is not thread-safe to mutate.
/// </para>
/// </remarks>
public sealed class CrossApplicationAccessProviderOptions
{
    /// <summary>The client ID at the resource's authorization server (required).</summary>
    public string ClientId { get; set; } = string.Empty;

    /// <summary>The client secret at the resource's authorization server (a secret), if the client is confidential.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>
    /// How the client authenticates at the authorization server: <c>client_secret_basic</c>, <c>client_secret_post</c>,
    /// <c>client_secret_jwt</c> (an HMAC-signed assertion instead of the secret, RFC 7523 §2.2; HS256 unless the server's
    /// <c>token_endpoint_auth_signing_alg_values_supported</c> lists only HS384/HS512; a secret of at least 32 bytes) or
    /// <c>none</c>. When <see langword="null"/>, it is negotiated from the server's
    /// <c>token_endpoint_auth_methods_supported</c>: with a secret <c>client_secret_basic</c> (else <c>client_secret_post</c>,
    /// else <c>client_secret_jwt</c>, whichever is advertised), without one <c>none</c>.
    /// </summary>
    public string? TokenEndpointAuthMethod { get; set; }

    /// <summary>The <c>scope</c> requested from the authorization server (space-separated), if any.</summary>
    public string? Scope { get; set; }

    /// <summary>The IdP's issuer URL; its token endpoint is discovered (RFC 8414, then OpenID discovery) unless <see cref="IdpTokenEndpoint"/> is set.</summary>
    public string? IdpUrl { get; set; }

    /// <summary>The IdP's token endpoint; when set, no IdP discovery happens.</summary>
    public string? IdpTokenEndpoint { get; set; }

    /// <summary>The client ID at the IdP (required).</summary>
    public string IdpClientId { get; set; } = string.Empty;

    /// <summary>The client secret at the IdP (a secret), if the client is confidential there.</summary>
    public string? IdpClientSecret { get; set; }

    /// <summary>
    /// How the client authenticates at the IdP: <c>client_secret_basic</c>, <c>client_secret_post</c>,
    /// <c>client_secret_jwt</c> or <c>none</c>. When
    /// <see langword="null"/>, negotiated like <see cref="TokenEndpointAuthMethod"/> from the IdP's discovered metadata
    /// (<c>client_secret_basic</c> with a secret when <see cref="IdpTokenEndpoint"/> is configured, <c>none</c> without).
    /// </summary>
    public string? IdpTokenEndpointAuthMethod { get; set; }

    /// <summary>The <c>scope</c> of the token exchange at the IdP, if any.</summary>
    public string? IdpScope { get; set; }

    /// <summary>
    /// Returns the user's OpenID Connect ID token issued by the IdP (required). Called once per exchange (not once per
    /// caller), on the exchange's token, which is cancelled only when every caller waiting for it gave up. It may call
    /// <see cref="CrossApplicationAccessProvider.InvalidateCache()"/>.
    /// </summary>
    public Func<CrossApplicationAccessContext, CancellationToken, Task<string>> IdTokenCallback { get; set; } = null!;

    /// <summary>The largest response body accepted from any endpoint, in bytes.</summary>
    /// <value>The default value is 1 MiB.</value>
    public int MaxResponseBytes { get; set; } = OAuthHttp.DefaultMaxResponseBytes;

    /// <summary>Expiry, skew and refresh-ahead rules of the cached access tokens; the defaults of <see cref="AuthCoordinatorOptions"/> when <see langword="null"/>.</summary>
    public AuthCoordinatorOptions? TokenCacheOptions { get; set; }

    /// <summary>
    /// The authorization servers (issuer identifiers) that <see cref="ClientId"/>, <see cref="ClientSecret"/> and ID-JAGs
    /// may be sent to. When empty (the default), the first authorization server a token is obtained from is pinned
    /// (trust on first use) and any other fails with <see cref="OAuthFailureReason.UntrustedAuthorizationServer"/>
    /// before anything — discovery, the ID token, the IdP exchange — happens for it. List every server here when one
    /// provider serves resources of several authorization servers. Issuers compare by scheme, host, port and path,
    /// ignoring a trailing slash. See <c>spec/security.md</c>.
    /// </summary>
    public IList<Uri> TrustedAuthorizationServers { get; set; } = [];

    /// <summary>
    /// The deadline of one whole back-channel operation (a metadata or token request: sending it, the response headers
    /// and the whole body). A server that answers slower fails with <see cref="OAuthFailureReason.Unreachable"/>.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan BackChannelTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most entries each server- or caller-influenced cache keeps (tokens per resource and authorization server,
    /// metadata per issuer). Beyond it an expired entry is evicted first, then the least recently used.
    /// </summary>
    /// <value>The default value is 64.</value>
    public int CacheCapacity { get; set; } = 64;

    /// <summary>
    /// Shares the access tokens with the other replicas (processes, pods) through a store such as Redis, so that one
    /// replica exchanges and the others adopt its token. Records are keyed by <see cref="TokenSharing.Identity"/> (give
    /// the user's identity here: cross-app tokens act for a user), the resource and the authorization server; a shared
    /// token of another authorization server is ignored. See <c>spec/distributed.md</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: tokens are kept in this process only.</value>
    public TokenSharing? SharedTokens { get; set; }

    /// <summary>
    /// Where the meter <c>LockFree.Auth</c> (<see cref="AuthMetrics"/>) of this provider comes from: every coordinator
    /// of the provider (metadata, client identity, tokens) and its shared acquisitions record on the factory's meter,
    /// which the factory owns and disposes (with the container). <c>AddCrossApplicationAccessProvider</c> sets the container's factory when this is
    /// not set.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the library's static meter.</value>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }
}
