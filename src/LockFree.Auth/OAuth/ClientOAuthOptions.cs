using LockFree.Auth.Diagnostics;
using Microsoft.IdentityModel.Tokens;
using LockFree.Auth.DPoP;

namespace LockFree.Auth.OAuth;

/// <summary>Configures a <see cref="ClientOAuthProvider"/>.</summary>
/// <remarks>
/// <para>
/// The provider validates the options and copies what it needs when it is constructed
/// (<see cref="ArgumentException"/> for an unusable combination, for example the authorization code grant without
/// <see cref="RedirectUri"/> or <see cref="AuthorizationCallbackHandler"/>).
/// </para>
/// <para>
/// Concurrency: configure before constructing the provider and do not change the instance afterwards; the provider
/// reads it once (collections are copied) and never writes to it.
/// </para>
/// </remarks>
public sealed class ClientOAuthOptions
{
    /// <summary>The grant used to obtain tokens.</summary>
    /// <value>The default value is <see cref="OAuthGrantType.AuthorizationCode"/>.</value>
    public OAuthGrantType GrantType { get; set; } = OAuthGrantType.AuthorizationCode;

    /// <summary>The redirect URI registered for the client; required for <see cref="OAuthGrantType.AuthorizationCode"/>.</summary>
    /// <remarks>
    /// With <see cref="SystemBrowserAuthorization"/>, a loopback IP literal: <c>http://127.0.0.1/callback</c> (no port:
    /// an ephemeral port per authorization, RFC 8252 §7.3) or <c>http://127.0.0.1:8765/callback</c> (that port).
    /// </remarks>
    public Uri? RedirectUri { get; set; }

    /// <summary>A pre-registered client ID. When set, neither a client ID metadata document nor dynamic registration is used.</summary>
    public string? ClientId { get; set; }

    /// <summary>The secret of a pre-registered confidential client (a secret: never logged).</summary>
    public string? ClientSecret { get; set; }

    /// <summary>
    /// The token endpoint authentication method: <c>client_secret_basic</c>, <c>client_secret_post</c>,
    /// <c>client_secret_jwt</c>, <c>none</c> or <c>private_key_jwt</c>. When <see langword="null"/>, the provider picks
    /// one the authorization server supports and the configuration allows (a signing key enables <c>private_key_jwt</c>,
    /// a secret <c>client_secret_basic</c>, else <c>client_secret_post</c>, else <c>client_secret_jwt</c>; otherwise
    /// <c>none</c>). <c>client_secret_jwt</c> (RFC 7523 §2.2) sends an HMAC-signed assertion instead of the secret: HS256
    /// unless the server's <c>token_endpoint_auth_signing_alg_values_supported</c> names only HS384 or HS512; it needs a
    /// <see cref="ClientSecret"/> of at least 32 bytes (UTF-8).
    /// </summary>
    public string? TokenEndpointAuthMethod { get; set; }

    /// <summary>
    /// The HTTPS URL of this client's ID metadata document, used as the client ID when the authorization server
    /// advertises <c>client_id_metadata_document_supported</c> and no <see cref="ClientId"/> is configured.
    /// </summary>
    public Uri? ClientMetadataDocumentUri { get; set; }

    /// <summary>
    /// Scopes to request when neither the challenge nor the protected resource metadata names any. A challenge's
    /// <c>scope</c> wins, then the resource's <c>scopes_supported</c>, then these; otherwise no scope is sent.
    /// </summary>
    public IEnumerable<string>? Scopes { get; set; }

    /// <summary>
    /// Shows <see cref="AuthorizationCallbackContext.AuthorizationUri"/> to the user (for example opens a browser)
    /// and returns the parameters of the redirect, or <see langword="null"/> when the user did not authorize.
    /// Required for <see cref="OAuthGrantType.AuthorizationCode"/>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// For a desktop application or a CLI, use <see cref="SystemBrowserAuthorization.AuthorizeAsync"/>: it opens the
    /// system browser and receives the redirect on a loopback listener (RFC 8252).
    /// </para>
    /// <para>
    /// Concurrency: called at most once per authorization, however many requests wait for it. The token passed
    /// is the provider's, not a caller's: it is cancelled only when every request waiting for this authorization
    /// gave up, or the provider was disposed.
    /// </para>
    /// </remarks>
    public Func<AuthorizationCallbackContext, CancellationToken, Task<AuthorizationResult?>>? AuthorizationCallbackHandler { get; set; }

    /// <summary>Chooses among the authorization servers a protected resource names; the first one when <see langword="null"/>.</summary>
    public Func<IReadOnlyList<Uri>, Uri?>? AuthServerSelector { get; set; }

    /// <summary>Settings for RFC 7591 dynamic client registration, used when no client ID is configured and no client ID metadata document applies.</summary>
    public DynamicClientRegistrationOptions? DynamicClientRegistration { get; set; }

    /// <summary>Extra parameters added to the authorization request (they cannot override the protocol's own parameters).</summary>
    public IDictionary<string, string> AdditionalAuthorizationParameters { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Where tokens are stored and restored from (for example between runs of a CLI).</summary>
    public ITokenCache? TokenCache { get; set; }

    /// <summary>The key that signs <c>private_key_jwt</c> client assertions (RFC 7523), for example an RSA or EC key.</summary>
    public SigningCredentials? ClientAssertionSigningCredentials { get; set; }

    /// <summary>How long a <c>private_key_jwt</c> or <c>client_secret_jwt</c> client assertion is valid.</summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan ClientAssertionLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The <c>typ</c> header of <c>private_key_jwt</c> and <c>client_secret_jwt</c> client assertions. The default,
    /// <see cref="ClientAssertionJwtTypes.ClientAuthentication"/> (<c>client-authentication+jwt</c>,
    /// draft-ietf-oauth-rfc7523bis), is required by OpenIddict 7.x and accepted by oidc-provider 9.x and the MCP
    /// conformance suite; set <see cref="ClientAssertionJwtTypes.Jwt"/> for a server that accepts only <c>JWT</c>.
    /// </summary>
    /// <value>The default value is <c>client-authentication+jwt</c>.</value>
    public string ClientAssertionJwtType { get; set; } = ClientAssertionJwtTypes.ClientAuthentication;

    /// <summary>
    /// Turns on DPoP (RFC 9449, sender-constrained tokens): every token request (authorization code, refresh, client
    /// credentials) carries a proof signed with this store's key, a <c>token_type</c> of <c>DPoP</c> is accepted, and
    /// <see cref="ClientOAuthHandler"/> sends a DPoP-bound token as <c>Authorization: DPoP</c> with a new proof per
    /// request (<c>ath</c> bound to the token). Server nonces (<c>DPoP-Nonce</c>, <c>use_dpop_nonce</c>) are kept per
    /// server and a request is retried at most once for a new nonce. Use <see cref="InMemoryDPoPKeyStore"/> for a
    /// process-lifetime EC P-256 key.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: DPoP is off and tokens are bearer tokens.</value>
    public IDPoPKeyStore? DPoPKeyStore { get; set; }

    /// <summary>How many times one request may be retried after a <c>403 insufficient_scope</c> step-up.</summary>
    /// <value>The default value is 2.</value>
    public int MaxStepUpAttempts { get; set; } = 2;

    /// <summary>Expiry rules (skew, refresh-ahead) of the cached tokens.</summary>
    /// <value>The default value is <see langword="null"/>: the defaults of <see cref="AuthCoordinatorOptions"/>.</value>
    public AuthCoordinatorOptions? TokenExpiry { get; set; }

    /// <summary>The largest metadata, registration or token response accepted, in bytes.</summary>
    /// <value>The default value is 1 MiB.</value>
    public int MaxResponseBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The authorization servers (issuer identifiers) this provider may use. When not empty, only these are used: a
    /// resource whose metadata names another fails with <see cref="OAuthFailureReason.UntrustedAuthorizationServer"/>
    /// before anything is sent to it (issuers compare by scheme, host, port and path, ignoring a trailing slash).
    /// When empty (the default) and <see cref="ClientId"/> is set, the pre-registered credentials are bound on first
    /// use: the first authorization server a token is obtained from is pinned, and a resource that later names another
    /// fails the same way. When empty and the client identity is per server (client ID metadata document or dynamic
    /// registration), the provider follows the resource's own metadata to a new authorization server (MCP SEP-2352):
    /// it registers there anew, and no registration, refresh token or code of the previous server is sent to it.
    /// See <c>spec/security.md</c>.
    /// </summary>
    public IList<Uri> TrustedAuthorizationServers { get; set; } = [];

    /// <summary>
    /// The deadline of one whole back-channel operation (a metadata, registration or token request: sending it,
    /// the response headers and the whole body). A server that answers slower fails with
    /// <see cref="OAuthFailureReason.Unreachable"/>.
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan BackChannelTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most entries each of the provider's server-influenced caches keeps (metadata per discovery location, tokens
    /// per scope set). Beyond it the least valuable entry is evicted: an expired one first, then the least recently used.
    /// </summary>
    /// <value>The default value is 64.</value>
    public int CacheCapacity { get; set; } = 64;

    /// <summary>
    /// Shares this client's tokens with its other replicas (processes, pods) through a store such as Redis, so that a
    /// cold replica adopts the token another one has and, when it expires, only one replica exchanges the (rotating)
    /// refresh token. Records are keyed by <see cref="TokenSharing.Identity"/>, the server URL, the issuer and the
    /// scope set; a shared token of an issuer this provider may not use is ignored. See <c>spec/distributed.md</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: tokens are kept in this process only.</value>
    public TokenSharing? SharedTokens { get; set; }

    /// <summary>
    /// Where the meter <c>LockFree.Auth</c> (<see cref="AuthMetrics"/>) of this provider comes from: every coordinator
    /// of the provider (metadata, client identity, tokens) and its shared acquisitions record on the factory's meter,
    /// which the factory owns and disposes (with the container). <c>AddClientOAuthProvider</c> sets the container's factory when this is
    /// not set.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the library's static meter.</value>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }
}
