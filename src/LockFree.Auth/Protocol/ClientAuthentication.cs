using System.Net.Http.Headers;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Protocol;

/// <summary>What a client authentication method may need to authenticate one token request.</summary>
/// <param name="TokenEndpoint">The token endpoint the request goes to (the audience of a client assertion).</param>
/// <param name="Issuer">The authorization server's issuer, when known (an alternative assertion audience).</param>
/// <param name="TimeProvider">The provider's clock (for assertion timestamps).</param>
/// <param name="SigningAlgorithms">The server's <c>token_endpoint_auth_signing_alg_values_supported</c>, when known (the <c>client_secret_jwt</c> algorithm).</param>
internal readonly record struct ClientAuthenticationContext(Uri TokenEndpoint, Uri? Issuer, TimeProvider TimeProvider, IReadOnlyList<string>? SigningAlgorithms = null);

/// <summary>Where a client's identity comes from; it decides which authentication method <see cref="ClientAuthentication.Negotiate"/> picks.</summary>
internal enum ClientIdentityKind
{
    /// <summary>A pre-registered client (configured client ID and secret or signing key).</summary>
    PreRegistered,

    /// <summary>A client ID metadata document URL used as the client ID.</summary>
    MetadataDocument,

    /// <summary>A client about to register (RFC 7591): the method it asks for.</summary>
    DynamicRegistration,
}

/// <summary>The signing key (<c>private_key_jwt</c>) and the JWT shape of client assertions (RFC 7523, also <c>client_secret_jwt</c>); the key is never shown.</summary>
/// <param name="SigningCredentials">The <c>private_key_jwt</c> signing key, if one is configured.</param>
/// <param name="Lifetime">How long an assertion is valid.</param>
/// <param name="JwtType">The JWT <c>typ</c> header.</param>
internal sealed record ClientAssertionOptions(SigningCredentials? SigningCredentials, TimeSpan Lifetime, string JwtType)
{
    /// <summary>Describes the options without the key.</summary>
    public override string ToString() => $"ClientAssertionOptions {{ Lifetime = {Lifetime}, JwtType = {JwtType}, SigningKey = {(SigningCredentials is null ? "(none)" : "[configured]")} }}";

    /// <summary>The default shape (5 minutes, <c>client-authentication+jwt</c>) without a signing key.</summary>
    internal static ClientAssertionOptions Default { get; } = new(null, TimeSpan.FromMinutes(5), ClientAssertionJwtTypes.ClientAuthentication);
}

/// <summary>
/// How a client authenticates at a token endpoint (RFC 6749 §2.3, RFC 7523 §2.2). The built-in methods are
/// <c>client_secret_basic</c>, <c>client_secret_post</c> and <c>none</c>; the JWT assertion methods
/// (<c>private_key_jwt</c>, <c>client_secret_jwt</c>) derive from <see cref="ClientAssertionAuthentication"/>.
/// </summary>
/// <remarks>
/// <para><see cref="ToString"/> shows the method and client ID, never a secret.</para>
/// <para>Concurrency: implementations must be immutable (or otherwise thread-safe); one instance authenticates concurrent requests.</para>
/// </remarks>
internal abstract class ClientAuthentication
{
    /// <summary>Creates the authentication of <paramref name="clientId"/>.</summary>
    protected ClientAuthentication(string clientId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        ClientId = clientId;
    }

    /// <summary>The client identifier.</summary>
    internal string ClientId { get; }

    /// <summary>The RFC 8414 / RFC 7591 name of the method, for example <c>client_secret_basic</c>.</summary>
    internal abstract string Method { get; }

    /// <summary>Adds the client's credentials to <paramref name="request"/> and/or its <paramref name="form"/> (sent after this returns).</summary>
    internal abstract ValueTask ApplyAsync(HttpRequestMessage request, List<KeyValuePair<string, string>> form, ClientAuthenticationContext context, CancellationToken cancellationToken);

    /// <summary>The built-in method named <paramref name="method"/>.</summary>
    /// <exception cref="OAuthException"><see cref="OAuthFailureReason.ClientAuthentication"/>: the method is unknown, or needs a secret that is missing.</exception>
    internal static ClientAuthentication Create(string method, string clientId, string? clientSecret) => method switch
    {
        OAuthConstants.ClientSecretBasic => new ClientSecretBasicAuthentication(clientId, RequireSecret(method, clientSecret)),
        OAuthConstants.ClientSecretPost => new ClientSecretPostAuthentication(clientId, RequireSecret(method, clientSecret)),
        OAuthConstants.None => new NoClientAuthentication(clientId),
        _ => throw new OAuthException($"The client authentication method '{OAuthHttp.Sanitize(method)}' is not supported here (use client_secret_basic, client_secret_post or none).", OAuthFailureReason.ClientAuthentication),
    };

    /// <summary>
    /// The one client-authentication negotiation of both providers. The configured method wins. Otherwise, by
    /// <paramref name="kind"/>:
    /// <list type="bullet">
    /// <item><see cref="ClientIdentityKind.PreRegistered"/>: with a signing key, <c>private_key_jwt</c> when the server
    /// advertises it (or advertises nothing); else, with a secret, <c>client_secret_basic</c> when advertised (or nothing
    /// is: the RFC 8414 default), else <c>client_secret_post</c> when advertised, else <c>client_secret_jwt</c> when
    /// advertised; without a secret, <c>none</c>.</item>
    /// <item><see cref="ClientIdentityKind.MetadataDocument"/>: <c>private_key_jwt</c> with a signing key, else <c>none</c>.</item>
    /// <item><see cref="ClientIdentityKind.DynamicRegistration"/> (the method to register): <c>private_key_jwt</c> with a
    /// signing key; else <c>none</c> when advertised (or nothing is), else <c>client_secret_basic</c>, else
    /// <c>client_secret_post</c> when advertised, else <c>none</c>.</item>
    /// </list>
    /// </summary>
    /// <exception cref="OAuthException"><see cref="OAuthFailureReason.ClientAuthentication"/>: a pre-registered client with a secret, and the server supports none of the secret-based methods (basic, post, client_secret_jwt).</exception>
    internal static string Negotiate(
        string? configured,
        IReadOnlyList<string>? supported,
        bool hasSecret,
        Uri? issuer = null,
        ClientIdentityKind kind = ClientIdentityKind.PreRegistered,
        bool hasSigningKey = false)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        switch (kind)
        {
            case ClientIdentityKind.MetadataDocument:
                return hasSigningKey ? OAuthConstants.PrivateKeyJwt : OAuthConstants.None;
            case ClientIdentityKind.DynamicRegistration:
                return hasSigningKey ? OAuthConstants.PrivateKeyJwt
                    : supported is null || supported.Contains(OAuthConstants.None) ? OAuthConstants.None
                    : supported.Contains(OAuthConstants.ClientSecretBasic) ? OAuthConstants.ClientSecretBasic
                    : supported.Contains(OAuthConstants.ClientSecretPost) ? OAuthConstants.ClientSecretPost
                    : OAuthConstants.None;
        }

        if (hasSigningKey && (supported is null || supported.Contains(OAuthConstants.PrivateKeyJwt)))
        {
            return OAuthConstants.PrivateKeyJwt;
        }

        if (!hasSecret)
        {
            return OAuthConstants.None;
        }

        if (supported is null || supported.Contains(OAuthConstants.ClientSecretBasic))
        {
            return OAuthConstants.ClientSecretBasic;
        }

        if (supported.Contains(OAuthConstants.ClientSecretPost))
        {
            return OAuthConstants.ClientSecretPost;
        }

        if (supported.Contains(OAuthConstants.ClientSecretJwt))
        {
            return OAuthConstants.ClientSecretJwt;
        }

        throw new OAuthException(
            $"The authorization server{(issuer is null ? string.Empty : $" '{OAuthEndpoint.Describe(issuer)}'")} supports none of client_secret_basic, client_secret_post and client_secret_jwt for a client with a secret.",
            OAuthFailureReason.ClientAuthentication,
            issuer);
    }

    /// <summary>
    /// The method named <paramref name="method"/>, including the JWT assertion methods: <c>private_key_jwt</c> with
    /// <paramref name="assertion"/>'s signing key, <c>client_secret_jwt</c> with HMAC over <paramref name="clientSecret"/>
    /// (both with <paramref name="assertion"/>'s lifetime and <c>typ</c>, or the defaults); the built-in methods otherwise,
    /// see <see cref="Create(string, string, string?)"/>.
    /// </summary>
    /// <exception cref="OAuthException">
    /// <see cref="OAuthFailureReason.ClientAuthentication"/>: <c>private_key_jwt</c> without a signing key,
    /// <c>client_secret_jwt</c> without a secret or with one shorter than 32 bytes, or see <see cref="Create(string, string, string?)"/>.
    /// </exception>
    internal static ClientAuthentication Create(string method, string clientId, string? clientSecret, ClientAssertionOptions? assertion)
    {
        var shape = assertion ?? ClientAssertionOptions.Default;
        return method switch
        {
            OAuthConstants.PrivateKeyJwt => shape.SigningCredentials is { } credentials
                ? new PrivateKeyJwtAuthentication(clientId, credentials, shape.Lifetime, shape.JwtType)
                : throw new OAuthException("private_key_jwt needs ClientAssertionSigningCredentials, but none are configured.", OAuthFailureReason.ClientAuthentication),
            OAuthConstants.ClientSecretJwt => new ClientSecretJwtAuthentication(clientId, RequireSecret(method, clientSecret), shape.Lifetime, shape.JwtType),
            _ => Create(method, clientId, clientSecret),
        };
    }

    /// <summary>The <c>application/x-www-form-urlencoded</c> encoding of RFC 6749 Appendix B (space as '+').</summary>
    internal static string FormUrlEncode(string value) => Uri.EscapeDataString(value).Replace("%20", "+", StringComparison.Ordinal);

    /// <summary>Describes the method and client without secrets.</summary>
    public override string ToString() => $"{Method} (client_id '{ClientId}')";

    private static string RequireSecret(string method, string? secret) =>
        string.IsNullOrEmpty(secret)
            ? throw new OAuthException($"The client authentication method '{method}' needs a client secret, but none is configured.", OAuthFailureReason.ClientAuthentication)
            : secret;

    private sealed class ClientSecretBasicAuthentication(string clientId, string secret) : ClientAuthentication(clientId)
    {
        // RFC 6749 §2.3.1: the client ID and secret are form-url-encoded before they are joined and base64-encoded.
        private readonly string _header = Convert.ToBase64String(Encoding.UTF8.GetBytes(FormUrlEncode(clientId) + ":" + FormUrlEncode(secret)));

        internal override string Method => OAuthConstants.ClientSecretBasic;

        internal override ValueTask ApplyAsync(HttpRequestMessage request, List<KeyValuePair<string, string>> form, ClientAuthenticationContext context, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", _header);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class ClientSecretPostAuthentication(string clientId, string secret) : ClientAuthentication(clientId)
    {
        internal override string Method => OAuthConstants.ClientSecretPost;

        internal override ValueTask ApplyAsync(HttpRequestMessage request, List<KeyValuePair<string, string>> form, ClientAuthenticationContext context, CancellationToken cancellationToken)
        {
            form.Add(new("client_id", ClientId));
            form.Add(new("client_secret", secret));
            return ValueTask.CompletedTask;
        }
    }

    private sealed class NoClientAuthentication(string clientId) : ClientAuthentication(clientId)
    {
        internal override string Method => OAuthConstants.None;

        internal override ValueTask ApplyAsync(HttpRequestMessage request, List<KeyValuePair<string, string>> form, ClientAuthenticationContext context, CancellationToken cancellationToken)
        {
            form.Add(new("client_id", ClientId));
            return ValueTask.CompletedTask;
        }
    }
}
