using LockFree.Auth.Protocol;

namespace LockFree.Auth.CrossAppAccess;

/// <summary>The validated, immutable copy of the options.</summary>
internal sealed record CrossAppSettings(
    string ClientId,
    string? ClientSecret,
    string? TokenEndpointAuthMethod,
    string? Scope,
    Uri? IdpIssuer,
    Uri? IdpTokenEndpoint,
    string IdpClientId,
    string? IdpClientSecret,
    ClientAuthentication? IdpAuthentication,
    string? IdpScope,
    Func<CrossApplicationAccessContext, CancellationToken, Task<string>> IdTokenCallback,
    int MaxResponseBytes,
    AuthCoordinatorOptions? TokenCacheOptions,
    TimeSpan BackChannelTimeout,
    int CacheCapacity,
    TokenSharing? SharedTokens)
{
    private static readonly string[] s_methods = [OAuthConstants.ClientSecretBasic, OAuthConstants.ClientSecretPost, OAuthConstants.ClientSecretJwt, OAuthConstants.None];

    /// <summary>The name errors give an option: <c>CrossApplicationAccessProviderOptions.X</c> (one style for both providers).</summary>
    public static string Option(string name) => OptionChecks.Qualified(nameof(CrossApplicationAccessProviderOptions), name);

    public static CrossAppSettings From(CrossApplicationAccessProviderOptions o)
    {
        OptionChecks.Require(o.ClientId, Option(nameof(o.ClientId)));
        OptionChecks.Require(o.IdpClientId, Option(nameof(o.IdpClientId)));
        if (o.IdTokenCallback is null)
        {
            throw OptionChecks.Invalid(Option(nameof(o.IdTokenCallback)), $"{Option(nameof(o.IdTokenCallback))} is required.");
        }

        var clientSecret = string.IsNullOrEmpty(o.ClientSecret) ? null : o.ClientSecret;
        var idpClientSecret = string.IsNullOrEmpty(o.IdpClientSecret) ? null : o.IdpClientSecret;
        var method = Method(o.TokenEndpointAuthMethod, clientSecret, Option(nameof(o.TokenEndpointAuthMethod)), Option(nameof(o.ClientSecret)));
        var idpMethod = Method(o.IdpTokenEndpointAuthMethod, idpClientSecret, Option(nameof(o.IdpTokenEndpointAuthMethod)), Option(nameof(o.IdpClientSecret)));

        if (string.IsNullOrWhiteSpace(o.IdpUrl) && string.IsNullOrWhiteSpace(o.IdpTokenEndpoint))
        {
            throw OptionChecks.Invalid(Option(nameof(o.IdpUrl)), $"One of {Option(nameof(o.IdpUrl))} or {Option(nameof(o.IdpTokenEndpoint))} is required.");
        }

        var idpIssuer = ParseUrl(o.IdpUrl, Option(nameof(o.IdpUrl)));
        var idpTokenEndpoint = ParseUrl(o.IdpTokenEndpoint, Option(nameof(o.IdpTokenEndpoint)));
        OptionChecks.RequirePositive(o.MaxResponseBytes, Option(nameof(o.MaxResponseBytes)));
        BackChannel.ValidateTimeout(o.BackChannelTimeout, Option(nameof(o.BackChannelTimeout)));

        AuthCoordinatorOptions? cacheOptions = null;
        if (o.TokenCacheOptions is { } t)
        {
            try
            {
                t.Validate();
            }
            catch (ArgumentException ex)
            {
                throw OptionChecks.Invalid(Option(nameof(o.TokenCacheOptions)), $"{Option(nameof(o.TokenCacheOptions))} is invalid: {ex.Message}", ex);
            }

            cacheOptions = t.Clone();
        }

        cacheOptions ??= new AuthCoordinatorOptions { Name = "cross-app-access" };
        OptionChecks.RequirePositive(o.CacheCapacity, Option(nameof(o.CacheCapacity)));

        // With a configured IdP endpoint the IdP method is known now; with discovery it may be negotiated later.
        var idpAuthentication = idpMethod is not null || idpTokenEndpoint is not null
            ? ClientAuthentication.Create(idpMethod ?? ClientAuthentication.Negotiate(null, null, idpClientSecret is not null), o.IdpClientId, idpClientSecret, assertion: null)
            : null;

        return new CrossAppSettings(
            o.ClientId,
            clientSecret,
            method,
            string.IsNullOrWhiteSpace(o.Scope) ? null : o.Scope,
            idpIssuer,
            idpTokenEndpoint,
            o.IdpClientId,
            idpClientSecret,
            idpAuthentication,
            string.IsNullOrWhiteSpace(o.IdpScope) ? null : o.IdpScope,
            o.IdTokenCallback,
            o.MaxResponseBytes,
            cacheOptions,
            o.BackChannelTimeout,
            o.CacheCapacity,
            o.SharedTokens);
    }

    private static string? Method(string? method, string? secret, string name, string secretName)
    {
        if (string.IsNullOrEmpty(method))
        {
            return null;
        }

        if (!s_methods.Contains(method, StringComparer.Ordinal))
        {
            throw OptionChecks.Invalid(name, $"{name} must be client_secret_basic, client_secret_post, client_secret_jwt or none.");
        }

        if (method != OAuthConstants.None && secret is null)
        {
            throw OptionChecks.Invalid(secretName, $"{name} '{method}' requires {secretName}.");
        }

        if (method == OAuthConstants.ClientSecretJwt && !ClientSecretJwtAuthentication.IsLongEnough(secret))
        {
            throw OptionChecks.Invalid(secretName, ClientSecretJwtAuthentication.ShortSecretMessage(secretName));
        }

        return method;
    }

    private static Uri? ParseUrl(string? value, string name)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return OAuthEndpoint.TryParseAbsolute(value)
            ?? throw OptionChecks.Invalid(name, $"{name} must be an absolute http(s) URL.");
    }

    public override string ToString() => $"CrossAppSettings {{ ClientId = {ClientId}, IdpClientId = {IdpClientId} }}";
}
