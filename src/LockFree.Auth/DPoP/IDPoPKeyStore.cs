namespace LockFree.Auth.DPoP;

/// <summary>
/// Where the key that signs DPoP proofs (RFC 9449) comes from. Setting <see cref="OAuth.ClientOAuthOptions.DPoPKeyStore"/>
/// turns DPoP on: every token request and every request the handler sends with a DPoP-bound token carries a proof
/// signed with <see cref="GetKeyAsync"/>'s key. <see cref="InMemoryDPoPKeyStore"/> is the default implementation.
/// </summary>
/// <remarks>
/// <para>
/// The key and its storage are the application's: a token is bound to the key's thumbprint when it is issued, so a
/// store that returns another key makes the tokens bound to the previous one unusable (the resource rejects them and
/// the provider obtains new ones). Rotate the key only together with the tokens, for example by persisting both.
/// </para>
/// <para>
/// Concurrency: called concurrently, once per proof (every token request and every resource request with a
/// DPoP-bound token); implementations must be thread-safe and fast (cache the key, do not fetch it per call).
/// </para>
/// </remarks>
public interface IDPoPKeyStore
{
    /// <summary>Returns the key that signs the next proof.</summary>
    /// <param name="cancellationToken">The caller's cancellation.</param>
    ValueTask<DPoPKey> GetKeyAsync(CancellationToken cancellationToken);
}
