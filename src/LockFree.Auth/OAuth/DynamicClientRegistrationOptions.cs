namespace LockFree.Auth.OAuth;

/// <summary>Settings for RFC 7591 dynamic client registration.</summary>
/// <remarks>Concurrency: read once by the provider's constructor.</remarks>
public sealed class DynamicClientRegistrationOptions
{
    /// <summary>The <c>client_name</c> to register.</summary>
    public string? ClientName { get; set; }

    /// <summary>The <c>client_uri</c> to register.</summary>
    public Uri? ClientUri { get; set; }

    /// <summary>An initial access token for registration endpoints that require one (a secret).</summary>
    public string? InitialAccessToken { get; set; }

    /// <summary>Called once with each registration the authorization server returned, for example to persist it.</summary>
    public Func<ClientRegistration, CancellationToken, Task>? ResponseDelegate { get; set; }
}
