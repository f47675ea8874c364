using System.Net.Http.Headers;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Protocol;

/// <summary>What a client authentication method may need to authenticate one token request.</summary>
/// <param name="TokenEndpoint">The token endpoint the request goes to (the audience of a client assertion).</param>
/// <param name="Issuer">The authorization server's issuer, when known (an alternative assertion audience).</param>
/// <param name="TimeProvider">The provider's clock (for assertion timestamps).</param>
internal readonly record struct ClientAuthenticationContext(Uri TokenEndpoint, Uri? Issuer, TimeProvider TimeProvider);

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

/// <summary>The signing key and JWT shape of <c>private_key_jwt</c> client assertions (RFC 7523); the key is never shown.</summary>
/// <param name="SigningCredentials">The signing key.</param>
/// <param name="Lifetime">How long an assertion is valid.</param>
/// <param name="JwtType">The JWT <c>typ</c> header.</param>
internal sealed record ClientAssertionOptions(SigningCredentials SigningCredentials, TimeSpan Lifetime, string JwtType)
{
    /// <summary>Describes the options without the key.</summary>
    public override string ToString() => $"ClientAssertionOptions {{ Lifetime = {Lifetime}, JwtType = {JwtType} }}";
}

/// <summary>
/// How a client authenticates at a token endpoint (RFC 6749 §2.3, RFC 7523 §2.2). The built-in methods are
/// <c>client_secret_basic</c>, <c>client_secret_post</c> and <c>none</c>; derive from this class for others, for
/// example <c>private_key_jwt</c> (add <c>client_assertion_type</c> and <c>client_assertion</c> to the form).
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
    /// is: the RFC 8414 default), else <c>client_secret_post</c> when advertised; without a secret, <c>none</c>.</item>
    /// <item><see cref="ClientIdentityKind.MetadataDocument"/>: <c>private_key_jwt</c> with a signing key, else <c>none</c>.</item>
    /// <item><see cref="ClientIdentityKind.DynamicRegistration"/> (the method to register): <c>private_key_jwt</c> with a
    /// signing key; else <c>none</c> when advertised (or nothing is), else <c>client_secret_basic</c>, else
    /// <c>client_secret_post</c> when advertised, else <c>none</c>.</item>
    /// </list>
    /// </summary>
    /// <exception cref="OAuthException"><see cref="OAuthFailureReason.ClientAuthentication"/>: a pre-registered client with a secret, and the server supports none of the secret-based methods.</exception>
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

        throw new OAuthException(
            $"The authorization server{(issuer is null ? string.Empty : $" '{OAuthEndpoint.Describe(issuer)}'")} supports neither client_secret_basic nor client_secret_post for a client with a secret.",
            OAuthFailureReason.ClientAuthentication,
            issuer);
    }

    /// <summary>
    /// The method named <paramref name="method"/>, including <c>private_key_jwt</c> with <paramref name="assertion"/>'s
    /// signing key (the built-in methods otherwise, see <see cref="Create(string, string, string?)"/>).
    /// </summary>
    /// <exception cref="OAuthException"><see cref="OAuthFailureReason.ClientAuthentication"/>: <c>private_key_jwt</c> without a signing key, or see <see cref="Create(string, string, string?)"/>.</exception>
    internal static ClientAuthentication Create(string method, string clientId, string? clientSecret, ClientAssertionOptions? assertion) =>
        method != OAuthConstants.PrivateKeyJwt ? Create(method, clientId, clientSecret)
            : assertion is null ? throw new OAuthException("private_key_jwt needs ClientAssertionSigningCredentials, but none are configured.", OAuthFailureReason.ClientAuthentication)
            : new PrivateKeyJwtAuthentication(clientId, assertion.SigningCredentials, assertion.Lifetime, assertion.JwtType);

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
