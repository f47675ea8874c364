using LockFree.Auth.Protocol;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.ClientCredentials;

/// <summary>
/// One named client of a <see cref="ClientCredentialsTokenManager"/>: where its tokens come from (a token endpoint, or
/// an authority whose metadata names it), how it authenticates, and which scope and resource its tokens are for.
/// </summary>
/// <remarks>
/// <para>
/// Bindable from configuration (every property is a string, a URI, a number, a time span or a nested object of the
/// same kind; <see cref="ClientAssertionSigningCredentials"/> is set in code). <see cref="Validate"/> lists every
/// problem, each message starting with the key of the option it names.
/// </para>
/// <para><see cref="ToString"/> shows the client ID, endpoint and method, never <see cref="ClientSecret"/> or a key.</para>
/// <para>
/// Concurrency: a plain settings object, not thread-safe while it is being changed. A manager reads it once, when it is
/// created; later changes have no effect on that manager.
/// </para>
/// </remarks>
public sealed class ClientCredentialsClientOptions
{
    /// <summary>The method name of HTTP Basic client authentication (RFC 6749 §2.3.1).</summary>
    public const string ClientSecretBasic = OAuthConstants.ClientSecretBasic;

    /// <summary>The method name of client authentication with the secret in the form body (RFC 6749 §2.3.1).</summary>
    public const string ClientSecretPost = OAuthConstants.ClientSecretPost;

    /// <summary>The method name of client authentication with a JWT signed by the client's key (RFC 7523 §2.2).</summary>
    public const string PrivateKeyJwt = OAuthConstants.PrivateKeyJwt;

    /// <summary>
    /// The method name of client authentication with a JWT signed with HMAC over the client secret (RFC 7523 §2.2,
    /// OpenID Connect Core §9); the secret itself is never sent.
    /// </summary>
    public const string ClientSecretJwt = OAuthConstants.ClientSecretJwt;

    /// <summary>
    /// The token endpoint. Set this or <see cref="Authority"/>, not both. It must be an absolute <c>https</c> URI
    /// (plain <c>http</c> only for loopback hosts) without fragment or user information.
    /// </summary>
    public Uri? TokenEndpoint { get; set; }

    /// <summary>
    /// The authorization server's issuer identifier, whose metadata (RFC 8414, then OpenID Connect discovery) names the
    /// token endpoint; discovered once and cached. Set this or <see cref="TokenEndpoint"/>, not both.
    /// </summary>
    public Uri? Authority { get; set; }

    /// <summary>The client identifier (required).</summary>
    public string? ClientId { get; set; }

    /// <summary>The client secret (a secret: never logged, never in a message or <see cref="ToString"/>).</summary>
    public string? ClientSecret { get; set; }

    /// <summary>
    /// How the client authenticates at the token endpoint: <see cref="ClientSecretBasic"/>,
    /// <see cref="ClientSecretPost"/>, <see cref="ClientSecretJwt"/> or <see cref="PrivateKeyJwt"/>.
    /// <see cref="ClientSecretJwt"/> signs each assertion with HS256 (HS384 or HS512 when the server's
    /// <c>token_endpoint_auth_signing_alg_values_supported</c>, known with <see cref="Authority"/>, lists only those) and
    /// needs a <see cref="ClientSecret"/> of at least 32 bytes (UTF-8).
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: <see cref="PrivateKeyJwt"/> when
    /// <see cref="ClientAssertionSigningCredentials"/> is set, otherwise <see cref="ClientSecretBasic"/>.
    /// </value>
    public string? ClientAuthenticationMethod { get; set; }

    /// <summary>The key that signs <c>private_key_jwt</c> client assertions (RFC 7523), for example an RSA or EC key.</summary>
    public SigningCredentials? ClientAssertionSigningCredentials { get; set; }

    /// <summary>How long a <c>private_key_jwt</c> or <c>client_secret_jwt</c> client assertion is valid.</summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan ClientAssertionLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The <c>typ</c> header of <c>private_key_jwt</c> and <c>client_secret_jwt</c> client assertions (see <see cref="ClientAssertionJwtTypes"/>).</summary>
    /// <value>The default value is <c>client-authentication+jwt</c>.</value>
    public string ClientAssertionJwtType { get; set; } = ClientAssertionJwtTypes.ClientAuthentication;

    /// <summary>The space-separated scope requested, unless a request names its own.</summary>
    /// <value>The default value is <see langword="null"/>: no <c>scope</c> parameter.</value>
    public string? Scope { get; set; }

    /// <summary>The RFC 8707 <c>resource</c> the tokens are for (an absolute URI without fragment), unless a request names its own.</summary>
    /// <value>The default value is <see langword="null"/>: no <c>resource</c> parameter.</value>
    public Uri? Resource { get; set; }

    /// <summary>Expiry rules (skew, refresh-ahead) of the cached tokens.</summary>
    /// <value>The default value is <see langword="null"/>: the defaults of <see cref="AuthCoordinatorOptions"/>.</value>
    public AuthCoordinatorOptions? TokenExpiry { get; set; }

    /// <summary>
    /// The deadline of one whole back-channel operation (a metadata or token request: sending it, the response headers
    /// and the whole body). A server that answers slower fails with <see cref="OAuthFailureReason.Unreachable"/>.
    /// </summary>
    /// <value>The default value is 30 seconds; at most 10 minutes.</value>
    public TimeSpan BackChannelTimeout { get; set; } = BackChannel.DefaultTimeout;

    /// <summary>The largest metadata or token response accepted, in bytes.</summary>
    /// <value>The default value is 1 MiB.</value>
    public int MaxResponseBytes { get; set; } = OAuthHttp.DefaultMaxResponseBytes;

    /// <summary>
    /// Shares this client's tokens with the other replicas (processes, pods) through an <see cref="ISharedTokenStore"/>
    /// (issue 13, <c>spec/distributed.md</c>): of all replicas only one exchanges, the others adopt its token; a rejected
    /// token (<see cref="ClientCredentialsTokenManager.InvalidateToken"/>) retires the shared record too, only while it
    /// still holds that token. Records are keyed by <see cref="TokenSharing.Identity"/>, the token endpoint or
    /// authority, the scope, the resource and the client ID.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: tokens are shared by the callers of this process only.</value>
    public TokenSharing? SharedTokens { get; set; }

    /// <summary>The authentication method these options select (<see cref="ClientAuthenticationMethod"/> or its default).</summary>
    internal string EffectiveAuthenticationMethod =>
        string.IsNullOrEmpty(ClientAuthenticationMethod)
            ? ClientAssertionSigningCredentials is null ? ClientSecretBasic : PrivateKeyJwt
            : ClientAuthenticationMethod;

    /// <summary>
    /// Every problem of these options, one message each; empty when they can be used. Each message starts with the key
    /// of the option it names: <paramref name="keyPrefix"/> followed by the option's name, for example
    /// <c>LockFree:Clients:billing:TokenEndpoint</c> for the prefix <c>LockFree:Clients:billing:</c> (a configuration
    /// section's path and its separator), or plain <c>TokenEndpoint</c> without a prefix. No message contains a secret.
    /// </summary>
    /// <param name="keyPrefix">What goes before each option name in the messages; none when omitted.</param>
    /// <returns>The messages, in the order of the properties.</returns>
    public IReadOnlyList<string> Validate(string? keyPrefix = null)
    {
        var p = keyPrefix ?? string.Empty;
        var errors = new List<string>();
        if (TokenEndpoint is null && Authority is null)
        {
            errors.Add($"{p}{nameof(TokenEndpoint)} or {p}{nameof(Authority)} is required.");
        }
        else if (TokenEndpoint is not null && Authority is not null)
        {
            errors.Add($"{p}{nameof(TokenEndpoint)} and {p}{nameof(Authority)} are both set; set only one of them.");
        }

        if (TokenEndpoint is { } endpoint && !IsUsableEndpoint(endpoint))
        {
            errors.Add($"{p}{nameof(TokenEndpoint)} must be an absolute https URI (plain http only for a loopback host) without fragment or user information.");
        }

        if (Authority is { } authority && (!IsUsableEndpoint(authority) || authority.Query.Length > 0))
        {
            errors.Add($"{p}{nameof(Authority)} must be an absolute https URI (plain http only for a loopback host) without query, fragment or user information.");
        }

        if (string.IsNullOrWhiteSpace(ClientId))
        {
            errors.Add($"{p}{nameof(ClientId)} is required.");
        }

        switch (EffectiveAuthenticationMethod)
        {
            case ClientSecretBasic or ClientSecretPost:
                if (string.IsNullOrEmpty(ClientSecret))
                {
                    errors.Add($"{p}{nameof(ClientSecret)} is required for {EffectiveAuthenticationMethod}.");
                }

                break;
            case PrivateKeyJwt or ClientSecretJwt:
                if (EffectiveAuthenticationMethod == PrivateKeyJwt && ClientAssertionSigningCredentials is null)
                {
                    errors.Add($"{p}{nameof(ClientAssertionSigningCredentials)} is required for {PrivateKeyJwt}.");
                }

                if (EffectiveAuthenticationMethod == ClientSecretJwt)
                {
                    if (string.IsNullOrEmpty(ClientSecret))
                    {
                        errors.Add($"{p}{nameof(ClientSecret)} is required for {ClientSecretJwt}.");
                    }
                    else if (!ClientSecretJwtAuthentication.IsLongEnough(ClientSecret))
                    {
                        errors.Add(ClientSecretJwtAuthentication.ShortSecretMessage(p + nameof(ClientSecret)));
                    }
                }

                if (ClientAssertionLifetime <= TimeSpan.Zero)
                {
                    errors.Add($"{p}{nameof(ClientAssertionLifetime)} must be positive.");
                }

                if (string.IsNullOrWhiteSpace(ClientAssertionJwtType))
                {
                    errors.Add($"{p}{nameof(ClientAssertionJwtType)} is required for {EffectiveAuthenticationMethod}.");
                }

                break;
            default:
                errors.Add($"{p}{nameof(ClientAuthenticationMethod)} must be {ClientSecretBasic}, {ClientSecretPost}, {ClientSecretJwt} or {PrivateKeyJwt} (was '{OAuthHttp.Sanitize(EffectiveAuthenticationMethod)}').");
                break;
        }

        if (Resource is { } resource && !IsResource(resource))
        {
            errors.Add($"{p}{nameof(Resource)} must be an absolute URI without fragment (RFC 8707).");
        }

        try
        {
            TokenExpiry?.Validate();
        }
        catch (ArgumentException ex)
        {
            errors.Add($"{p}{nameof(TokenExpiry)}: {ex.Message}");
        }

        if (!BackChannel.IsValidTimeout(BackChannelTimeout))
        {
            errors.Add($"{p}{nameof(BackChannelTimeout)} must be greater than zero and at most {BackChannel.MaxTimeout.TotalMinutes:0} minutes.");
        }

        if (MaxResponseBytes <= 0)
        {
            errors.Add($"{p}{nameof(MaxResponseBytes)} must be positive.");
        }

        return errors;
    }

    /// <summary>Describes the client without its secret or key.</summary>
    public override string ToString() =>
        $"ClientCredentialsClientOptions {{ ClientId = {ClientId ?? "(none)"}, {(TokenEndpoint is { } e ? $"TokenEndpoint = {OAuthEndpoint.Describe(e)}" : $"Authority = {(Authority is { } a ? OAuthEndpoint.Describe(a) : "(none)")}")}, Method = {EffectiveAuthenticationMethod}, Scope = {Scope ?? "(none)"}, ClientSecret = {(ClientSecret is null ? "(none)" : "[redacted]")} }}";

    /// <summary>Whether <paramref name="resource"/> may be an RFC 8707 resource indicator: absolute, without fragment.</summary>
    internal static bool IsResource(Uri resource) => resource.IsAbsoluteUri && resource.Fragment.Length == 0;

    private static bool IsUsableEndpoint(Uri endpoint)
    {
        try
        {
            OAuthEndpoint.Validate(endpoint, "endpoint");
            return true;
        }
        catch (OAuthException)
        {
            return false;
        }
    }
}
