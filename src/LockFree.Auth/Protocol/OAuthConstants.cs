namespace LockFree.Auth.Protocol;

/// <summary>Protocol strings used by the providers (RFC 6749, 7523, 8693, 8414 and the ID-JAG draft).</summary>
internal static class OAuthConstants
{
    internal const string ClientSecretBasic = "client_secret_basic";
    internal const string ClientSecretPost = "client_secret_post";
    internal const string None = "none";
    internal const string PrivateKeyJwt = "private_key_jwt";
    internal const string ClientSecretJwt = "client_secret_jwt";

    internal const string GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";
    internal const string GrantTypeJwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    internal const string GrantTypeClientCredentials = "client_credentials";
    internal const string GrantTypeAuthorizationCode = "authorization_code";
    internal const string GrantTypeRefreshToken = "refresh_token";

    internal const string TokenTypeIdJag = "urn:ietf:params:oauth:token-type:id-jag";
    internal const string TokenTypeIdToken = "urn:ietf:params:oauth:token-type:id_token";
    internal const string TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token";

    internal const string ClientAssertionTypeJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    internal const string Bearer = "Bearer";
}
