using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Protocol;

/// <summary>
/// <c>client_secret_jwt</c> client authentication (RFC 7523 §2.2, OpenID Connect Core §9): a client assertion
/// (<see cref="ClientAssertionAuthentication"/>) signed with HMAC (<see cref="SymmetricSecurityKey"/>) over the UTF-8
/// bytes of the client secret. The secret itself is never sent.
/// </summary>
/// <remarks>
/// <para>
/// The algorithm is HS256 unless the server's <c>token_endpoint_auth_signing_alg_values_supported</c> lists algorithms
/// without it: then the first of HS384, HS512 it lists. RFC 7518 §3.2 requires a key at least as long as the hash
/// output, so HS256 needs a secret of 32 bytes, HS384 48 and HS512 64; a shorter secret is refused (when constructed
/// for HS256, when a request is made for the others), never padded.
/// </para>
/// <para>Concurrency: immutable; a new assertion (fresh <c>jti</c>) is created per request.</para>
/// </remarks>
internal sealed class ClientSecretJwtAuthentication : ClientAssertionAuthentication
{
    /// <summary>The smallest secret (UTF-8 bytes) usable with HS256, the default algorithm.</summary>
    internal const int MinimumSecretBytes = 32;

    /// <summary>The HMAC algorithms, in order of preference, with the key length (bytes) each needs.</summary>
    private static readonly (string Algorithm, int MinimumBytes)[] s_algorithms =
    [
        (SecurityAlgorithms.HmacSha256, 32),
        (SecurityAlgorithms.HmacSha384, 48),
        (SecurityAlgorithms.HmacSha512, 64),
    ];

    private readonly SymmetricSecurityKey _key;
    private readonly int _secretBytes;

    /// <exception cref="OAuthException"><see cref="OAuthFailureReason.ClientAuthentication"/>: the secret is shorter than <see cref="MinimumSecretBytes"/>.</exception>
    internal ClientSecretJwtAuthentication(string clientId, string secret, TimeSpan lifetime, string type = ClientAssertionJwtTypes.ClientAuthentication)
        : base(clientId, lifetime, type)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        var bytes = Encoding.UTF8.GetBytes(secret);
        if (bytes.Length < MinimumSecretBytes)
        {
            throw new OAuthException(ShortSecretMessage("The client secret", SecurityAlgorithms.HmacSha256, MinimumSecretBytes), OAuthFailureReason.ClientAuthentication);
        }

        _secretBytes = bytes.Length;
        _key = new SymmetricSecurityKey(bytes);
    }

    internal override string Method => OAuthConstants.ClientSecretJwt;

    /// <summary>Whether <paramref name="secret"/> is long enough for HS256 (at least <see cref="MinimumSecretBytes"/> UTF-8 bytes).</summary>
    internal static bool IsLongEnough(string? secret) => secret is not null && Encoding.UTF8.GetByteCount(secret) >= MinimumSecretBytes;

    /// <summary>The message for a secret (named by <paramref name="option"/>, never shown) too short for <paramref name="algorithm"/>.</summary>
    internal static string ShortSecretMessage(string option, string algorithm = SecurityAlgorithms.HmacSha256, int minimumBytes = MinimumSecretBytes) =>
        $"{option} must be at least {minimumBytes} bytes (UTF-8) long for client_secret_jwt with {algorithm} (RFC 7518 §3.2: an HMAC key as long as the hash output).";

    private protected override SigningCredentials SigningCredentialsFor(ClientAuthenticationContext context)
    {
        var supported = context.SigningAlgorithms;
        if (supported is null || supported.Count == 0)
        {
            return new SigningCredentials(_key, SecurityAlgorithms.HmacSha256);
        }

        (string Algorithm, int MinimumBytes)? tooLong = null;
        foreach (var (algorithm, minimumBytes) in s_algorithms)
        {
            if (!supported.Contains(algorithm, StringComparer.Ordinal))
            {
                continue;
            }

            if (_secretBytes >= minimumBytes)
            {
                return new SigningCredentials(_key, algorithm);
            }

            tooLong ??= (algorithm, minimumBytes);
        }

        var server = context.Issuer is { } issuer ? $"The authorization server '{OAuthEndpoint.Describe(issuer)}'" : "The authorization server";
        throw tooLong is { } needed
            ? new OAuthException($"{server} accepts no HMAC algorithm for client_secret_jwt that the client secret is long enough for. {ShortSecretMessage("The client secret", needed.Algorithm, needed.MinimumBytes)}", OAuthFailureReason.ClientAuthentication, context.Issuer)
            : new OAuthException($"{server} lists no HMAC algorithm (HS256, HS384, HS512) in token_endpoint_auth_signing_alg_values_supported, so it cannot verify client_secret_jwt.", OAuthFailureReason.ClientAuthentication, context.Issuer);
    }
}
