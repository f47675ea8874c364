using Microsoft.IdentityModel.Tokens;
using LockFree.Auth.DPoP;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>The OAuth grant a <see cref="ClientOAuthProvider"/> uses to obtain tokens.</summary>
public enum OAuthGrantType
{
    /// <summary>Authorization code with PKCE (S256): a user authorizes in a browser (the default).</summary>
    AuthorizationCode = 0,

    /// <summary>Client credentials: the client authenticates as itself (machine to machine).</summary>
    ClientCredentials = 1,
}

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
    /// The token endpoint authentication method: <c>client_secret_basic</c>, <c>client_secret_post</c>, <c>none</c>
    /// or <c>private_key_jwt</c>. When <see langword="null"/>, the provider picks one the authorization server
    /// supports and the configuration allows (a signing key enables <c>private_key_jwt</c>, a secret
    /// <c>client_secret_basic</c>/<c>client_secret_post</c>, otherwise <c>none</c>).
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

    /// <summary>How long a <c>private_key_jwt</c> client assertion is valid.</summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan ClientAssertionLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The <c>typ</c> header of <c>private_key_jwt</c> client assertions. The default,
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
}

/// <summary>What the authorization callback needs to send the user to the authorization server.</summary>
/// <remarks>Concurrency: immutable.</remarks>
public sealed class AuthorizationCallbackContext
{
    /// <summary>The full authorization request URL (contains no secret: the PKCE verifier never leaves the provider).</summary>
    public required Uri AuthorizationUri { get; init; }

    /// <summary>The redirect URI the authorization server will send the user back to.</summary>
    public required Uri RedirectUri { get; init; }

    /// <summary>
    /// The <c>state</c> the authorization request carries: a redirect whose <c>state</c> differs is not the response to
    /// this request (check it before anything else). <see langword="null"/> when the creator of the context did not set it.
    /// </summary>
    public string? State { get; init; }

    /// <summary>
    /// The issuer identifier of the authorization server, exactly as its metadata spells it: an RFC 9207 <c>iss</c>
    /// on the redirect must equal it. <see langword="null"/> when not known.
    /// </summary>
    public string? Issuer { get; init; }

    /// <summary>Whether the authorization server advertises RFC 9207, so a redirect without <c>iss</c> must be rejected.</summary>
    public bool IssuerRequired { get; init; }
}

/// <summary>The parameters of the authorization response (the redirect back to the client).</summary>
/// <remarks>
/// Concurrency: immutable. <see cref="Code"/> is a secret and is not part of <see cref="ToString"/>. An error response
/// (<see cref="Error"/> set) makes <see cref="ClientOAuthProvider"/> fail with an <see cref="OAuthException"/> whose
/// <see cref="OAuthException.Reason"/> is <see cref="OAuthFailureReason.ErrorResponse"/>, after it checked <c>state</c>.
/// </remarks>
public sealed class AuthorizationResult
{
    /// <summary>The authorization code (a secret).</summary>
    public string? Code { get; init; }

    /// <summary>The <c>state</c> parameter, checked against the one the provider sent.</summary>
    public string? State { get; init; }

    /// <summary>The RFC 9207 <c>iss</c> parameter, checked against the authorization server's issuer.</summary>
    public string? Iss { get; init; }

    /// <summary>The RFC 6749 §4.1.2.1 <c>error</c> code of an error response (for example <c>access_denied</c>), if any.</summary>
    public string? Error { get; init; }

    /// <summary>The <c>error_description</c> of an error response, if any (reduced to the RFC 6749 character set and truncated by <see cref="FromRedirectUri"/>).</summary>
    public string? ErrorDescription { get; init; }

    /// <summary>The <c>error_uri</c> of an error response, if it was a valid absolute URI.</summary>
    public Uri? ErrorUri { get; init; }

    /// <summary>
    /// The redirect URI the authorization request actually named, when the callback handler listened on another port
    /// of a loopback IP redirect URI than the configured one (RFC 8252 §7.3, an ephemeral port); the provider then
    /// sends this one in the token request. It may differ from the configured redirect URI only in the port, and only
    /// when the configured one is a loopback IP literal. <see langword="null"/>: the configured redirect URI.
    /// </summary>
    public Uri? RedirectUri { get; init; }

    /// <summary>Parses the query of a redirect URI (<c>code</c>, <c>state</c>, <c>iss</c>, <c>error</c>, <c>error_description</c>, <c>error_uri</c>).</summary>
    /// <param name="redirect">The URI the user agent was redirected to.</param>
    /// <returns>The parameters found (the first occurrence of each); error texts are sanitized.</returns>
    public static AuthorizationResult FromRedirectUri(Uri redirect)
    {
        ArgumentNullException.ThrowIfNull(redirect);
        string? code = null, state = null, iss = null, error = null, description = null, errorUri = null;
        foreach (var (name, value) in OAuthQuery.Parse(redirect.IsAbsoluteUri ? redirect.Query : null))
        {
            switch (name)
            {
                case "code": code ??= value; break;
                case "state": state ??= value; break;
                case "iss": iss ??= value; break;
                case "error": error ??= value; break;
                case "error_description": description ??= value; break;
                case "error_uri": errorUri ??= value; break;
            }
        }

        return new AuthorizationResult
        {
            Code = code,
            State = state,
            Iss = iss,
            Error = OAuthHttp.Sanitize(error),
            ErrorDescription = OAuthHttp.Sanitize(description),
            ErrorUri = Uri.TryCreate(errorUri, UriKind.Absolute, out var parsed) ? parsed : null,
        };
    }

    /// <summary>Describes the result without the code.</summary>
    public override string ToString() =>
        $"AuthorizationResult {{ Code = {(Code is null ? "(none)" : "[redacted]")}, HasState = {State is not null}, Iss = {Iss ?? "(none)"}, Error = {Error ?? "(none)"} }}";
}

/// <summary>Settings for RFC 7591 dynamic client registration.</summary>
/// <remarks>Concurrency: read once by the provider's constructor.</remarks>
public sealed class DynamicClientRegistrationOptions
{
    /// <summary>The <c>client_name</c> to register.</summary>
    public string? ClientName { get; set; }

    /// <summary>The <c>client_uri</c> to register.</summary>
    public Uri? ClientUri { get; set; }

    /// <summary>An initial access token for registration endpoints that require one (a secret).</summary>
    public string? InitialAccessToken { get; set; }

    /// <summary>Called once with each registration the authorization server returned, for example to persist it.</summary>
    public Func<ClientRegistration, CancellationToken, Task>? ResponseDelegate { get; set; }
}

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

/// <summary>Stores the tokens of a <see cref="ClientOAuthProvider"/> (same shape as the MCP C# SDK's cache, so existing caches plug in).</summary>
/// <remarks>
/// <para>
/// A later, optional versioned extension (compare-and-set on a version) can let several processes share one
/// rotating refresh token; this interface stays as it is.
/// </para>
/// <para>
/// Concurrency: the provider calls <see cref="GetTokensAsync"/> at most once (coalesced, before the first request
/// is sent) and <see cref="StoreTokensAsync"/> once per exchange, from whatever thread completed the exchange;
/// exchanges of different scope sets may store concurrently, so implementations must be safe for concurrent calls.
/// </para>
/// </remarks>
public interface ITokenCache
{
    /// <summary>Stores <paramref name="tokens"/> (they contain secrets).</summary>
    ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct);

    /// <summary>Returns the stored tokens, or <see langword="null"/>.</summary>
    ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct);
}

/// <summary>
/// An optional extension of <see cref="ITokenCache"/>: a cache that also implements this interface keeps the
/// dynamically registered client of each authorization server, so a restored refresh token can be used by the
/// client it was issued to (and no second registration happens) after a restart.
/// </summary>
/// <remarks>
/// Concurrency: the provider reads a registration at most once per authorization server (before registering) and
/// stores each new registration once; implementations must be safe for concurrent calls. Registrations can hold a
/// client secret: store them as carefully as tokens.
/// </remarks>
public interface IClientRegistrationCache
{
    /// <summary>Stores the registration made at the authorization server <paramref name="issuer"/>.</summary>
    ValueTask StoreClientRegistrationAsync(string issuer, ClientRegistration registration, CancellationToken ct);

    /// <summary>Returns the registration stored for <paramref name="issuer"/>, or <see langword="null"/>.</summary>
    ValueTask<ClientRegistration?> GetClientRegistrationAsync(string issuer, CancellationToken ct);
}
