using LockFree.Auth.ClientCredentials;

namespace LockFree.Auth.Extensions;

/// <summary>
/// What configuration may set of <see cref="ClientCredentialsClientOptions"/>: only values that text can carry, so the
/// configuration-binding source generator binds them without reflection (trimming and AOT safe) and never walks into
/// <see cref="ClientCredentialsClientOptions.ClientAssertionSigningCredentials"/> or a logger factory. A key that is
/// absent leaves the option as it was (like the reflection binder).
/// </summary>
/// <remarks>Concurrency: created, bound and applied on one thread, inside an options configure action.</remarks>
internal sealed class BindableClientOptions
{
    public Uri? TokenEndpoint { get; set; }

    public Uri? Authority { get; set; }

    public string? ClientId { get; set; }

    public string? ClientSecret { get; set; }

    public string? ClientAuthenticationMethod { get; set; }

    public TimeSpan? ClientAssertionLifetime { get; set; }

    public string? ClientAssertionJwtType { get; set; }

    public string? Scope { get; set; }

    public Uri? Resource { get; set; }

    public BindableTokenExpiry? TokenExpiry { get; set; }

    public TimeSpan? BackChannelTimeout { get; set; }

    public int? MaxResponseBytes { get; set; }

    /// <summary>Copies every value that configuration set onto <paramref name="options"/>.</summary>
    public void ApplyTo(ClientCredentialsClientOptions options)
    {
        if (TokenEndpoint is not null) { options.TokenEndpoint = TokenEndpoint; }
        if (Authority is not null) { options.Authority = Authority; }
        if (ClientId is not null) { options.ClientId = ClientId; }
        if (ClientSecret is not null) { options.ClientSecret = ClientSecret; }
        if (ClientAuthenticationMethod is not null) { options.ClientAuthenticationMethod = ClientAuthenticationMethod; }
        if (ClientAssertionLifetime is { } lifetime) { options.ClientAssertionLifetime = lifetime; }
        if (ClientAssertionJwtType is not null) { options.ClientAssertionJwtType = ClientAssertionJwtType; }
        if (Scope is not null) { options.Scope = Scope; }
        if (Resource is not null) { options.Resource = Resource; }
        if (BackChannelTimeout is { } timeout) { options.BackChannelTimeout = timeout; }
        if (MaxResponseBytes is { } max) { options.MaxResponseBytes = max; }
        if (TokenExpiry is { } expiry)
        {
            options.TokenExpiry ??= new AuthCoordinatorOptions();
            expiry.ApplyTo(options.TokenExpiry);
        }
    }
}

/// <summary>What configuration may set of <see cref="AuthCoordinatorOptions"/> (<c>TokenExpiry</c>).</summary>
/// <remarks>Concurrency: as <see cref="BindableClientOptions"/>.</remarks>
internal sealed class BindableTokenExpiry
{
    public TimeSpan? SkewMargin { get; set; }

    public double? MaxSkewFraction { get; set; }

    public TimeSpan? RefreshAheadWindow { get; set; }

    public double? MaxRefreshAheadFraction { get; set; }

    public TimeSpan? RefreshRetryDelay { get; set; }

    public TimeSpan? ClockCheckInterval { get; set; }

    public void ApplyTo(AuthCoordinatorOptions options)
    {
        if (SkewMargin is { } skew) { options.SkewMargin = skew; }
        if (MaxSkewFraction is { } skewFraction) { options.MaxSkewFraction = skewFraction; }
        if (RefreshAheadWindow is { } window) { options.RefreshAheadWindow = window; }
        if (MaxRefreshAheadFraction is { } windowFraction) { options.MaxRefreshAheadFraction = windowFraction; }
        if (RefreshRetryDelay is { } retry) { options.RefreshRetryDelay = retry; }
        if (ClockCheckInterval is { } interval) { options.ClockCheckInterval = interval; }
    }
}
