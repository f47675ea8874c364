using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// The validated, immutable copy of a <see cref="ClientOAuthOptions"/> (collections and the token expiry rules are
/// copied); every error names the option the user set, as <c>ClientOAuthOptions.Property</c> (<see cref="OptionChecks"/>).
/// </summary>
internal sealed record ClientOAuthSettings(
    OAuthGrantType GrantType,
    Uri? RedirectUri,
    string? ClientId,
    string? ClientSecret,
    string? TokenEndpointAuthMethod,
    Uri? ClientMetadataDocumentUri,
    IReadOnlyList<string>? Scopes,
    Func<AuthorizationCallbackContext, CancellationToken, Task<AuthorizationResult?>>? AuthorizationCallbackHandler,
    Func<IReadOnlyList<Uri>, Uri?>? AuthServerSelector,
    DynamicClientRegistrationOptions? Registration,
    IReadOnlyList<KeyValuePair<string, string>> AdditionalAuthorizationParameters,
    ITokenCache? TokenCache,
    ClientAssertionOptions ClientAssertion,
    int MaxStepUpAttempts,
    AuthCoordinatorOptions TokenExpiry,
    int CacheCapacity,
    int MaxResponseBytes,
    TimeSpan BackChannelTimeout,
    TokenSharing? SharedTokens)
{
    private const string Options = nameof(ClientOAuthOptions) + ".";

    /// <summary>Describes the settings without the client secret or the signing key.</summary>
    public override string ToString() =>
        $"Settings {{ GrantType = {GrantType}, ClientId = {ClientId ?? "(none)"}, ClientSecret = {(ClientSecret is null ? "(none)" : "[redacted]")}, TokenEndpointAuthMethod = {TokenEndpointAuthMethod ?? "(negotiated)"} }}";

    /// <summary>Validates <paramref name="options"/> and copies what the provider uses.</summary>
    /// <exception cref="ArgumentException">An option is unusable; <see cref="ArgumentException.ParamName"/> is <c>ClientOAuthOptions.Property</c>.</exception>
    internal static ClientOAuthSettings From(ClientOAuthOptions options)
    {
        var o = options;
        const string redirectUri = Options + nameof(ClientOAuthOptions.RedirectUri);
        const string callback = Options + nameof(ClientOAuthOptions.AuthorizationCallbackHandler);
        const string clientId = Options + nameof(ClientOAuthOptions.ClientId);
        const string clientSecret = Options + nameof(ClientOAuthOptions.ClientSecret);
        const string method = Options + nameof(ClientOAuthOptions.TokenEndpointAuthMethod);
        const string signing = Options + nameof(ClientOAuthOptions.ClientAssertionSigningCredentials);
        const string jwtType = Options + nameof(ClientOAuthOptions.ClientAssertionJwtType);
        if (o.GrantType == OAuthGrantType.AuthorizationCode)
        {
            OptionChecks.Require(o.RedirectUri is { IsAbsoluteUri: true }, redirectUri, $"The authorization code grant needs an absolute {redirectUri}.");
            OptionChecks.Require(o.AuthorizationCallbackHandler is not null, callback, $"The authorization code grant needs an {callback}.");
        }
        else if (o.GrantType == OAuthGrantType.ClientCredentials)
        {
            OptionChecks.Require(
                !string.IsNullOrEmpty(o.ClientId) || o.DynamicClientRegistration is not null,
                clientId,
                $"The client credentials grant needs a {clientId} (or {Options}{nameof(ClientOAuthOptions.DynamicClientRegistration)}).");
            OptionChecks.Require(
                string.IsNullOrEmpty(o.ClientId) || o.ClientSecret is not null || o.ClientAssertionSigningCredentials is not null,
                clientSecret,
                $"The client credentials grant needs a {clientSecret} or {signing}.");
        }
        else
        {
            OptionChecks.Require(false, Options + nameof(ClientOAuthOptions.GrantType), $"Unknown grant type {o.GrantType} in {Options}{nameof(ClientOAuthOptions.GrantType)}.");
        }

        OptionChecks.Require(
            o.TokenEndpointAuthMethod is null or OAuthConstants.ClientSecretBasic or OAuthConstants.ClientSecretPost or OAuthConstants.None or OAuthConstants.PrivateKeyJwt or OAuthConstants.ClientSecretJwt,
            method,
            $"{method} must be client_secret_basic, client_secret_post, client_secret_jwt, none or private_key_jwt.");
        OptionChecks.Require(
            o.TokenEndpointAuthMethod is not OAuthConstants.PrivateKeyJwt || o.ClientAssertionSigningCredentials is not null,
            signing,
            $"private_key_jwt ({method}) needs {signing}.");
        OptionChecks.Require(
            !(o.TokenEndpointAuthMethod is OAuthConstants.ClientSecretBasic or OAuthConstants.ClientSecretPost or OAuthConstants.ClientSecretJwt && o.ClientId is not null && string.IsNullOrEmpty(o.ClientSecret)),
            clientSecret,
            $"{o.TokenEndpointAuthMethod} ({method}) needs a {clientSecret}.");
        OptionChecks.Require(
            !(o.TokenEndpointAuthMethod is OAuthConstants.ClientSecretJwt && !string.IsNullOrEmpty(o.ClientSecret) && !ClientSecretJwtAuthentication.IsLongEnough(o.ClientSecret)),
            clientSecret,
            ClientSecretJwtAuthentication.ShortSecretMessage(clientSecret));
        const string document = Options + nameof(ClientOAuthOptions.ClientMetadataDocumentUri);
        OptionChecks.Require(
            o.ClientMetadataDocumentUri is not { } cimd || (cimd.IsAbsoluteUri && cimd.Scheme == Uri.UriSchemeHttps && cimd.AbsolutePath.Length > 1),
            document,
            $"{document} must be an https URL with a path.");
        OptionChecks.RequirePositive(o.ClientAssertionLifetime, Options + nameof(ClientOAuthOptions.ClientAssertionLifetime));
        OptionChecks.Require(
            !string.IsNullOrEmpty(o.ClientAssertionJwtType) && o.ClientAssertionJwtType.All(static c => c is > ' ' and <= '~' and not '"' and not '\\'),
            jwtType,
            $"{jwtType} must be a non-empty media type such as 'client-authentication+jwt' or 'JWT'.");
        OptionChecks.RequireNonNegative(o.MaxStepUpAttempts, Options + nameof(ClientOAuthOptions.MaxStepUpAttempts));
        OptionChecks.RequirePositive(o.MaxResponseBytes, Options + nameof(ClientOAuthOptions.MaxResponseBytes));
        BackChannel.ValidateTimeout(o.BackChannelTimeout, Options + nameof(ClientOAuthOptions.BackChannelTimeout));
        OptionChecks.RequirePositive(o.CacheCapacity, Options + nameof(ClientOAuthOptions.CacheCapacity));

        var expiry = o.TokenExpiry ?? new AuthCoordinatorOptions();
        OptionChecks.Nested(expiry.Validate, Options + nameof(ClientOAuthOptions.TokenExpiry));
        var tokenExpiry = expiry.Clone(o.TokenExpiry?.Name is { } name && name != "coordinator" ? name : "oauth.tokens");
        return new ClientOAuthSettings(
            o.GrantType,
            o.RedirectUri,
            string.IsNullOrEmpty(o.ClientId) ? null : o.ClientId,
            o.ClientSecret,
            o.TokenEndpointAuthMethod,
            o.ClientMetadataDocumentUri,
            o.Scopes?.ToArray(),
            o.AuthorizationCallbackHandler,
            o.AuthServerSelector,
            o.DynamicClientRegistration,
            (o.AdditionalAuthorizationParameters ?? new Dictionary<string, string>()).ToArray(),
            o.TokenCache,
            new ClientAssertionOptions(o.ClientAssertionSigningCredentials, o.ClientAssertionLifetime, o.ClientAssertionJwtType),
            o.MaxStepUpAttempts,
            tokenExpiry,
            o.CacheCapacity,
            o.MaxResponseBytes,
            o.BackChannelTimeout,
            o.SharedTokens);
    }

    /// <summary>Whether a signing key for <c>private_key_jwt</c> is configured.</summary>
    internal bool HasSigningKey => ClientAssertion.SigningCredentials is not null;
}
