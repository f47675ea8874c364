using LockFree.Auth.CrossAppAccess;
using LockFree.Auth.OAuth;

namespace LockFree.Auth.Extensions;

/// <summary>
/// What configuration may set of <see cref="ClientOAuthOptions"/>: only values that text can carry (bound by the
/// configuration-binding source generator, no reflection). Callbacks, caches, keys, DPoP and token sharing are set in
/// code. A key that is absent leaves the option as it was; a list that is present replaces the option's list, a
/// dictionary's entries are added.
/// </summary>
/// <remarks>Concurrency: created, bound and applied on one thread, inside an options configure action.</remarks>
internal sealed class BindableClientOAuthOptions
{
    /// <summary>The options configuration may set, as they appear in messages: <c>ClientOAuthOptions.X</c> becomes the key.</summary>
    public static readonly IReadOnlySet<string> Names = new HashSet<string>(StringComparer.Ordinal)
    {
        nameof(ClientOAuthOptions.GrantType), nameof(ClientOAuthOptions.RedirectUri), nameof(ClientOAuthOptions.ClientId),
        nameof(ClientOAuthOptions.ClientSecret), nameof(ClientOAuthOptions.TokenEndpointAuthMethod),
        nameof(ClientOAuthOptions.ClientMetadataDocumentUri), nameof(ClientOAuthOptions.Scopes),
        nameof(ClientOAuthOptions.DynamicClientRegistration), nameof(ClientOAuthOptions.AdditionalAuthorizationParameters),
        nameof(ClientOAuthOptions.ClientAssertionLifetime), nameof(ClientOAuthOptions.ClientAssertionJwtType),
        nameof(ClientOAuthOptions.MaxStepUpAttempts), nameof(ClientOAuthOptions.TokenExpiry), nameof(ClientOAuthOptions.MaxResponseBytes),
        nameof(ClientOAuthOptions.TrustedAuthorizationServers), nameof(ClientOAuthOptions.BackChannelTimeout), nameof(ClientOAuthOptions.CacheCapacity),
    };

    public OAuthGrantType? GrantType { get; set; }

    public Uri? RedirectUri { get; set; }

    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    public string? TokenEndpointAuthMethod { get; set; }

    public Uri? ClientMetadataDocumentUri { get; set; }

    public string[]? Scopes { get; set; }

    public BindableDynamicClientRegistration? DynamicClientRegistration { get; set; }

    public Dictionary<string, string>? AdditionalAuthorizationParameters { get; set; }

    public TimeSpan? ClientAssertionLifetime { get; set; }

    public string? ClientAssertionJwtType { get; set; }

    public int? MaxStepUpAttempts { get; set; }

    public BindableTokenExpiry? TokenExpiry { get; set; }

    public int? MaxResponseBytes { get; set; }

    public Uri[]? TrustedAuthorizationServers { get; set; }

    public TimeSpan? BackChannelTimeout { get; set; }

    public int? CacheCapacity { get; set; }

    /// <summary>Copies every value that configuration set onto <paramref name="options"/>.</summary>
    public void ApplyTo(ClientOAuthOptions options)
    {
        if (GrantType is { } grant) { options.GrantType = grant; }
        if (RedirectUri is not null) { options.RedirectUri = RedirectUri; }
        if (ClientId is not null) { options.ClientId = ClientId; }
        if (ClientSecret is not null) { options.ClientSecret = ClientSecret; }
        if (TokenEndpointAuthMethod is not null) { options.TokenEndpointAuthMethod = TokenEndpointAuthMethod; }
        if (ClientMetadataDocumentUri is not null) { options.ClientMetadataDocumentUri = ClientMetadataDocumentUri; }
        if (Scopes is not null) { options.Scopes = Scopes; }
        if (DynamicClientRegistration is { } registration)
        {
            options.DynamicClientRegistration ??= new DynamicClientRegistrationOptions();
            registration.ApplyTo(options.DynamicClientRegistration);
        }

        if (AdditionalAuthorizationParameters is { } parameters)
        {
            foreach (var (key, value) in parameters)
            {
                options.AdditionalAuthorizationParameters[key] = value;
            }
        }

        if (ClientAssertionLifetime is { } lifetime) { options.ClientAssertionLifetime = lifetime; }
        if (ClientAssertionJwtType is not null) { options.ClientAssertionJwtType = ClientAssertionJwtType; }
        if (MaxStepUpAttempts is { } stepUps) { options.MaxStepUpAttempts = stepUps; }
        if (TokenExpiry is { } expiry)
        {
            options.TokenExpiry ??= new AuthCoordinatorOptions();
            expiry.ApplyTo(options.TokenExpiry);
        }

        if (MaxResponseBytes is { } max) { options.MaxResponseBytes = max; }
        if (TrustedAuthorizationServers is not null) { options.TrustedAuthorizationServers = [.. TrustedAuthorizationServers]; }
        if (BackChannelTimeout is { } timeout) { options.BackChannelTimeout = timeout; }
        if (CacheCapacity is { } capacity) { options.CacheCapacity = capacity; }
    }
}

/// <summary>What configuration may set of <see cref="DynamicClientRegistrationOptions"/> (not the response callback).</summary>
/// <remarks>Concurrency: as <see cref="BindableClientOAuthOptions"/>.</remarks>
internal sealed class BindableDynamicClientRegistration
{
    public string? ClientName { get; set; }

    public Uri? ClientUri { get; set; }

    public string? InitialAccessToken { get; set; }

    public void ApplyTo(DynamicClientRegistrationOptions options)
    {
        if (ClientName is not null) { options.ClientName = ClientName; }
        if (ClientUri is not null) { options.ClientUri = ClientUri; }
        if (InitialAccessToken is not null) { options.InitialAccessToken = InitialAccessToken; }
    }
}

/// <summary>
/// What configuration may set of <see cref="CrossApplicationAccessProviderOptions"/>: everything but
/// <see cref="CrossApplicationAccessProviderOptions.IdTokenCallback"/> and
/// <see cref="CrossApplicationAccessProviderOptions.SharedTokens"/> (set in code). Absent keys leave the option as it
/// was; a list that is present replaces the option's list.
/// </summary>
/// <remarks>Concurrency: as <see cref="BindableClientOAuthOptions"/>.</remarks>
internal sealed class BindableCrossAppOptions
{
    /// <summary>The options configuration may set, as they appear in messages: <c>CrossApplicationAccessProviderOptions.X</c> becomes the key.</summary>
    public static readonly IReadOnlySet<string> Names = new HashSet<string>(StringComparer.Ordinal)
    {
        nameof(CrossApplicationAccessProviderOptions.ClientId), nameof(CrossApplicationAccessProviderOptions.ClientSecret),
        nameof(CrossApplicationAccessProviderOptions.TokenEndpointAuthMethod), nameof(CrossApplicationAccessProviderOptions.Scope),
        nameof(CrossApplicationAccessProviderOptions.IdpUrl), nameof(CrossApplicationAccessProviderOptions.IdpTokenEndpoint),
        nameof(CrossApplicationAccessProviderOptions.IdpClientId), nameof(CrossApplicationAccessProviderOptions.IdpClientSecret),
        nameof(CrossApplicationAccessProviderOptions.IdpTokenEndpointAuthMethod), nameof(CrossApplicationAccessProviderOptions.IdpScope),
        nameof(CrossApplicationAccessProviderOptions.MaxResponseBytes), nameof(CrossApplicationAccessProviderOptions.TokenCacheOptions),
        nameof(CrossApplicationAccessProviderOptions.TrustedAuthorizationServers), nameof(CrossApplicationAccessProviderOptions.BackChannelTimeout),
        nameof(CrossApplicationAccessProviderOptions.CacheCapacity),
    };

    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    public string? TokenEndpointAuthMethod { get; set; }

    public string? Scope { get; set; }

    public string? IdpUrl { get; set; }

    public string? IdpTokenEndpoint { get; set; }

    public string? IdpClientId { get; set; }

    public string? IdpClientSecret { get; set; }

    public string? IdpTokenEndpointAuthMethod { get; set; }

    public string? IdpScope { get; set; }

    public int? MaxResponseBytes { get; set; }

    public BindableTokenExpiry? TokenCacheOptions { get; set; }

    public Uri[]? TrustedAuthorizationServers { get; set; }

    public TimeSpan? BackChannelTimeout { get; set; }

    public int? CacheCapacity { get; set; }

    /// <summary>Copies every value that configuration set onto <paramref name="options"/>.</summary>
    public void ApplyTo(CrossApplicationAccessProviderOptions options)
    {
        if (ClientId is not null) { options.ClientId = ClientId; }
        if (ClientSecret is not null) { options.ClientSecret = ClientSecret; }
        if (TokenEndpointAuthMethod is not null) { options.TokenEndpointAuthMethod = TokenEndpointAuthMethod; }
        if (Scope is not null) { options.Scope = Scope; }
        if (IdpUrl is not null) { options.IdpUrl = IdpUrl; }
        if (IdpTokenEndpoint is not null) { options.IdpTokenEndpoint = IdpTokenEndpoint; }
        if (IdpClientId is not null) { options.IdpClientId = IdpClientId; }
        if (IdpClientSecret is not null) { options.IdpClientSecret = IdpClientSecret; }
        if (IdpTokenEndpointAuthMethod is not null) { options.IdpTokenEndpointAuthMethod = IdpTokenEndpointAuthMethod; }
        if (IdpScope is not null) { options.IdpScope = IdpScope; }
        if (MaxResponseBytes is { } max) { options.MaxResponseBytes = max; }
        if (TokenCacheOptions is { } expiry)
        {
            options.TokenCacheOptions ??= new AuthCoordinatorOptions();
            expiry.ApplyTo(options.TokenCacheOptions);
        }

        if (TrustedAuthorizationServers is not null) { options.TrustedAuthorizationServers = [.. TrustedAuthorizationServers]; }
        if (BackChannelTimeout is { } timeout) { options.BackChannelTimeout = timeout; }
        if (CacheCapacity is { } capacity) { options.CacheCapacity = capacity; }
    }
}
