using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.ClientCredentials;

/// <summary>An access token a <see cref="ClientCredentialsTokenManager"/> obtained with the client-credentials grant.</summary>
/// <remarks>
/// <para><see cref="AccessToken"/> is a secret: <see cref="ToString"/> and the debugger display never show it.</para>
/// <para>
/// Concurrency: immutable. Every caller served by one exchange receives the same instance, so reference equality
/// identifies "the token that one exchange produced".
/// </para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class ClientCredentialsToken
{
    internal ClientCredentialsToken(TokenContainer tokens)
    {
        AccessToken = tokens.AccessToken;

        // RFC 6750: the scheme is "Bearer" whatever case the server wrote token_type in (the token endpoint client
        // accepted only bearer tokens).
        TokenType = OAuthConstants.Bearer;
        ExpiresAt = tokens.ExpiresAt;
        Scope = tokens.Scope;
        Header = new AuthenticationHeaderValue(OAuthConstants.Bearer, AccessToken);
    }

    /// <summary>The access token (a secret).</summary>
    public string AccessToken { get; }

    /// <summary>The token type: always <c>Bearer</c>.</summary>
    public string TokenType { get; }

    /// <summary>When the token expires (obtained-at plus <c>expires_in</c>); <see langword="null"/> when the server gave no lifetime.</summary>
    public DateTimeOffset? ExpiresAt { get; }

    /// <summary>The scope the server granted, if it said.</summary>
    public string? Scope { get; }

    /// <summary>The ready-made <c>Authorization</c> header (immutable once created; shared by every request that sends this token).</summary>
    internal AuthenticationHeaderValue Header { get; }

    /// <summary>Describes the token without its value.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"ClientCredentialsToken {{ TokenType = {TokenType}, Scope = {Scope ?? "(none)"}, ExpiresAt = {(ExpiresAt is { } e ? e.ToString("O", CultureInfo.InvariantCulture) : "(unknown)")}, AccessToken = [redacted] }}");
}
