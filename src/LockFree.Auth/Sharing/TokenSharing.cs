using System.Security.Cryptography;
using System.Text;
using LockFree.Auth.Diagnostics;

namespace LockFree.Auth;

/// <summary>
/// Makes a provider share its tokens with the other replicas (processes, pods) of the same client identity through an
/// <see cref="ISharedTokenStore"/>: set it as <c>ClientOAuthOptions.SharedTokens</c> or
/// <c>CrossApplicationAccessProviderOptions.SharedTokens</c> (<c>spec/distributed.md</c>).
/// </summary>
/// <remarks>
/// <para>
/// The provider keys each shared record by <see cref="Identity"/>, the protected resource, the authorization server
/// (issuer) and the scope set, so two resources, two servers or two scope sets never share a token; replicas that
/// should share give the same <see cref="Identity"/>. The store is consulted only when the provider needs a new token
/// (the fast path stays one volatile read, no I/O); a 401 for a token also retires the shared record if it still
/// holds that token.
/// </para>
/// <para>
/// Concurrency: safe to share between providers and threads. The options are validated and copied when it is created;
/// its only mutable state is whether the store was last seen unavailable (an <see cref="Interlocked"/> flag that only
/// decides when warning 5005 and message 5006 are written).
/// </para>
/// </remarks>
public sealed class TokenSharing
{
    /// <summary>Creates the sharing configuration.</summary>
    /// <param name="store">The shared store (for example <c>RedisSharedTokenStore</c>); owned by the caller.</param>
    /// <param name="identity">The client identity's name, the same in every replica that should share its tokens (for example the client ID, or a user ID for cross-app access).</param>
    /// <param name="options">Protection, lease, waits and failure mode; validated and copied.</param>
    /// <exception cref="ArgumentException">An argument is unusable (the message names it).</exception>
    public TokenSharing(ISharedTokenStore store, string identity, SharedTokenOptions options)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrWhiteSpace(identity);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Store = store;
        Identity = identity;
        Options = options.Copy();
    }

    // One health flag for every acquisition of this configuration: "store unavailable" is logged once per outage.
    private readonly SharedTokenAcquisition.StoreHealth _health = new();

    /// <summary>The shared store.</summary>
    public ISharedTokenStore Store { get; }

    /// <summary>The client identity's name; part of every record key.</summary>
    public string Identity { get; }

    /// <summary>The validated copy of the options (never handed out, so nobody can change it).</summary>
    internal SharedTokenOptions Options { get; }

    /// <summary>
    /// The record key of one token audience: <paramref name="kind"/> (which provider) and the SHA-256 of the identity
    /// and <paramref name="parts"/> (resource, issuer, scope set). Hashed so that any text (a user ID, braces that Redis
    /// would read as a hash tag) makes a short, fixed-alphabet key; the protector binds each payload to its key, so a
    /// record cannot be moved to another audience.
    /// </summary>
    internal string KeyFor(string kind, params ReadOnlySpan<string> parts)
    {
        var text = new StringBuilder(Identity);
        foreach (var part in parts)
        {
            // Separated by NUL, which none of the parts (URLs, scope tokens, a name) contains unescaped.
            text.Append('\0').Append(part);
        }

        return kind + ":" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// The shared acquisition of one record: <paramref name="exchange"/> runs only when no usable shared token exists
    /// and this replica holds the lease; a shared token set that <paramref name="accepts"/> refuses (an issuer this
    /// provider may not use) is ignored, never adopted.
    /// </summary>
    internal SharedTokenAcquisition Acquisition(
        string key,
        Func<AcquisitionContext<TokenContainer>, CancellationToken, Task<TokenContainer>> exchange,
        Func<TokenContainer, bool> accepts,
        TimeProvider time,
        AuthInstruments instruments) =>
        new(Store, key, exchange, Options, time, accepts, _health, instruments);

    /// <summary>
    /// After a 401 for <paramref name="rejected"/>: retires the record of <paramref name="key"/> if it still holds that
    /// token, in the background (the retry does not wait for it; a failure is logged, never thrown at the caller).
    /// </summary>
    internal void InvalidateInBackground(string key, TokenContainer rejected, TimeProvider time, AuthInstruments instruments) =>
        _ = new SharedTokenAcquisition(Store, key, s_noExchange, Options, time, accepts: null, _health, instruments).InvalidateInBackgroundAsync(rejected);

    /// <summary>
    /// The same protocol for another kind of shared value (the OAuth provider's client registration per issuer):
    /// <paramref name="codec"/> serializes and fingerprints it, the configured protector protects it (a client secret is
    /// a secret), and <paramref name="name"/> tags its logs and metrics.
    /// </summary>
    internal SharedRecordAcquisition<T> Record<T>(
        string key,
        Func<AcquisitionContext<T>, CancellationToken, Task<T>> work,
        ISharedRecordCodec<T> codec,
        TimeProvider time,
        string name,
        AuthInstruments instruments)
        where T : class =>
        new(Store, key, work, Options, codec, time, accepts: null, _health, name, instruments);

    // Never called: an invalidation exchanges nothing.
    private static readonly Func<AcquisitionContext<TokenContainer>, CancellationToken, Task<TokenContainer>> s_noExchange =
        static (_, _) => Task.FromException<TokenContainer>(new InvalidOperationException("An invalidation exchanges nothing."));
}
