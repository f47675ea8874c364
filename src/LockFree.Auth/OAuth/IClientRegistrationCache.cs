namespace LockFree.Auth.OAuth;

/// <summary>
/// An optional extension of <see cref="ITokenCache"/>: a cache that also implements this interface keeps the
/// dynamically registered client of each authorization server, so a restored refresh token can be used by the
/// client it was issued to (and no second registration happens) after a restart.
/// </summary>
/// <remarks>
/// Concurrency: the provider reads a registration at most once per authorization server (before registering) and
/// stores each new registration once; implementations must be safe for concurrent calls. Registrations can hold a
/// client secret: store them as carefully as tokens.
/// </remarks>
public interface IClientRegistrationCache
{
    /// <summary>Stores the registration made at the authorization server <paramref name="issuer"/>.</summary>
    ValueTask StoreClientRegistrationAsync(string issuer, ClientRegistration registration, CancellationToken ct);

    /// <summary>Returns the registration stored for <paramref name="issuer"/>, or <see langword="null"/>.</summary>
    ValueTask<ClientRegistration?> GetClientRegistrationAsync(string issuer, CancellationToken ct);
}
