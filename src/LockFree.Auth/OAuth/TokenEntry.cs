using System.Net.Http.Headers;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// One token exchange's result as the handler uses it: the tokens, the scope set they were obtained for and the
/// ready-made <c>Authorization</c> header value (so the fast path allocates nothing). Reference identity = "the
/// token one exchange produced".
/// </summary>
internal sealed class TokenEntry
{
    internal TokenEntry(TokenContainer tokens, ScopeSet scopes, string? issuer, ServerMetadata? metadata, string? clientId = null)
    {
        ClientId = clientId;
        Tokens = tokens;
        Scopes = scopes;
        Issuer = issuer;
        Metadata = metadata;
        IsDPoPBound = string.Equals(tokens.TokenType, DPoPProofs.Scheme, StringComparison.OrdinalIgnoreCase);
        Header = IsDPoPBound ? DPoPProofs.Authorization(tokens.AccessToken) : new AuthenticationHeaderValue(OAuthConstants.Bearer, tokens.AccessToken);
    }

    /// <summary>Whether the token is DPoP-bound (<c>token_type</c> DPoP): every request with it needs a proof.</summary>
    internal bool IsDPoPBound { get; }

    internal TokenContainer Tokens { get; }

    internal ScopeSet Scopes { get; }

    /// <summary>The issuer that issued the tokens (null when restored from a cache): a refresh token goes only there.</summary>
    internal string? Issuer { get; }

    /// <summary>The discovery result the tokens were obtained with (null when restored from a cache).</summary>
    internal ServerMetadata? Metadata { get; }

    /// <summary>The client ID the tokens were obtained with; <see langword="null"/> for tokens restored from an <see cref="ITokenCache"/>.</summary>
    internal string? ClientId { get; }

    internal AuthenticationHeaderValue Header { get; }

    // R1: 0 until the resource answered a request carrying this token with anything but 401, then 1. Written with
    // Volatile.Write (a benign race: several requests may set it), read with Volatile.Read on every response.
    private int _accepted;

    /// <summary>Whether the resource ever accepted this token (answered anything but 401 to a request carrying it).</summary>
    internal bool WasAccepted => Volatile.Read(ref _accepted) != 0;

    internal void MarkAccepted() => Volatile.Write(ref _accepted, 1);

    public override string ToString() => Tokens.ToString();
}
