namespace LockFree.Cli.Embedded;

/// <summary>Settings of the embedded servers.</summary>
internal sealed record EmbeddedServerSettings
{
    /// <summary>Lifetime of every access token the authorization server issues (<c>expires_in</c>, whole seconds).</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the current access token is revoked once <see cref="EmbeddedServer.StartRevocations"/> ran; zero: never.</summary>
    public TimeSpan RevokeEvery { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// Whether the confidential client gets a rotating refresh token with every client-credentials and refresh grant
    /// (<c>lockfree storm --replicas</c>: replicas must share one chain; a reused refresh token revokes the chain).
    /// </summary>
    public bool ConfidentialRefreshTokens { get; init; }

    /// <summary>The client the authorization server knows.</summary>
    public string ClientId { get; init; } = "storm-client";

    /// <summary>The client secret (random per run; never printed).</summary>
    public string ClientSecret { get; init; } = TokenText.Random("cs_");

    /// <summary>
    /// The pre-registered public client of the authorization code grant (<c>lockfree login</c>): no secret, PKCE, any
    /// loopback IP redirect URI on any port (RFC 8252 §7.3).
    /// </summary>
    public string LoginClientId { get; init; } = "lockfree-cli";

    /// <summary>The client the identity provider knows (cross-app access).</summary>
    public string IdpClientId { get; init; } = "storm-idp-client";

    /// <summary>The identity provider client secret (random per run; never printed).</summary>
    public string IdpClientSecret { get; init; } = TokenText.Random("is_");
}
