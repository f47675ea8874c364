using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Protocol;

/// <summary>
/// The JWT client assertion shared by <c>private_key_jwt</c> and <c>client_secret_jwt</c> (RFC 7523 §2.2, OpenID
/// Connect Core §9), created with <see cref="JsonWebTokenHandler"/> and sent as <c>client_assertion</c>.
/// </summary>
/// <remarks>
/// The assertion has <c>iss</c> = <c>sub</c> = the client ID, <c>aud</c> = the authorization server's issuer when
/// known (else the token endpoint), a fresh <c>jti</c> (128 random bits), and <c>iat</c>/<c>nbf</c>/<c>exp</c> from the
/// provider's <see cref="TimeProvider"/>. The JWT header's <c>typ</c> is the configured assertion type (by default
/// <c>client-authentication+jwt</c>, draft-ietf-oauth-rfc7523bis). Concurrency: immutable; a new assertion is created
/// per request.
/// </remarks>
internal abstract class ClientAssertionAuthentication : ClientAuthentication
{
    private static readonly JsonWebTokenHandler s_handler = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly TimeSpan _lifetime;
    private readonly string _type;

    /// <summary>Creates the assertion shape of <paramref name="clientId"/>.</summary>
    protected ClientAssertionAuthentication(string clientId, TimeSpan lifetime, string type)
        : base(clientId)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        _lifetime = lifetime;
        _type = type;
    }

    internal override ValueTask ApplyAsync(HttpRequestMessage request, List<KeyValuePair<string, string>> form, ClientAuthenticationContext context, CancellationToken cancellationToken)
    {
        form.Add(new("client_id", ClientId));
        form.Add(new("client_assertion_type", OAuthConstants.ClientAssertionTypeJwtBearer));
        form.Add(new("client_assertion", CreateAssertion(context)));
        return ValueTask.CompletedTask;
    }

    /// <summary>A new signed assertion for the token request of <paramref name="context"/>.</summary>
    /// <exception cref="OAuthException"><see cref="OAuthFailureReason.ClientAuthentication"/>: no usable signing algorithm (see <see cref="SigningCredentialsFor"/>).</exception>
    internal string CreateAssertion(ClientAuthenticationContext context)
    {
        var now = context.TimeProvider.GetUtcNow().UtcDateTime;
        var audience = context.Issuer?.OriginalString ?? context.TokenEndpoint.ToString();
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = ClientId,
            Audience = audience,
            IssuedAt = now,
            NotBefore = now,
            Expires = now + _lifetime,
            SigningCredentials = SigningCredentialsFor(context),
            TokenType = _type,
            Claims = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                [JwtRegisteredClaimNames.Sub] = ClientId,
                [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
            },
        };
        return s_handler.CreateToken(descriptor);
    }

    /// <summary>The key and algorithm that sign the assertion of <paramref name="context"/>'s request.</summary>
    private protected abstract SigningCredentials SigningCredentialsFor(ClientAuthenticationContext context);
}
