namespace LockFree.Auth.Protocol;

/// <summary>Where a grant's token request goes: the token endpoint, its issuer, and the resource (RFC 8707) the token is for.</summary>
/// <param name="TokenEndpoint">The token endpoint.</param>
/// <param name="Issuer">The authorization server's issuer (assertion audiences, messages).</param>
/// <param name="Resource">The resource indicator sent with the grant, when known.</param>
/// <param name="AuthSigningAlgorithms">The server's <c>token_endpoint_auth_signing_alg_values_supported</c>, when known.</param>
internal readonly record struct TokenGrantTarget(Uri TokenEndpoint, Uri Issuer, Uri? Resource, IReadOnlyList<string>? AuthSigningAlgorithms = null);

/// <summary>
/// The OAuth grants as token requests over <see cref="TokenEndpointClient"/>: refresh (RFC 6749 §6), client
/// credentials (§4.4) and the authorization-code exchange (§4.1.3, with the PKCE verifier). Builds the grant
/// parameters (with <c>resource</c>, RFC 8707) and requires a bearer token (or a DPoP-bound one with <see cref="DPoPProofs"/>).
/// </summary>
/// <remarks>Concurrency: immutable; one instance serves concurrent grants. Failures surface as <see cref="OAuthException"/>; what they mean is the caller's policy.</remarks>
internal sealed class TokenGrantClient
{
    private readonly TokenEndpointClient _client;
    private readonly DPoPProofs? _dpop;

    /// <summary>Creates the grants over <paramref name="client"/>; with <paramref name="dpop"/>, every token request carries a proof.</summary>
    internal TokenGrantClient(TokenEndpointClient client, DPoPProofs? dpop)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _dpop = dpop;
    }

    /// <summary>Refreshes with <paramref name="refreshToken"/>; <c>resource</c> is sent only when <paramref name="withResource"/> and the target names one.</summary>
    internal Task<TokenContainer> RefreshAsync(TokenGrantTarget target, ClientAuthentication authentication, string refreshToken, bool withResource, CancellationToken cancellationToken)
    {
        var parameters = new List<KeyValuePair<string, string>>
        {
            new("grant_type", OAuthConstants.GrantTypeRefreshToken),
            new("refresh_token", refreshToken),
        };
        if (withResource)
        {
            AddResource(parameters, target);
        }

        return RequestAsync(target, authentication, parameters, cancellationToken);
    }

    /// <summary>The client credentials grant for <paramref name="scope"/> (none sent when null or empty).</summary>
    internal Task<TokenContainer> ClientCredentialsAsync(TokenGrantTarget target, ClientAuthentication authentication, string? scope, CancellationToken cancellationToken)
    {
        var parameters = new List<KeyValuePair<string, string>> { new("grant_type", OAuthConstants.GrantTypeClientCredentials) };
        if (!string.IsNullOrEmpty(scope))
        {
            parameters.Add(new("scope", scope));
        }

        AddResource(parameters, target);
        return RequestAsync(target, authentication, parameters, cancellationToken);
    }

    /// <summary>Exchanges an authorization <paramref name="code"/> with the PKCE <paramref name="verifier"/>; <paramref name="redirectUri"/> is the one the authorization request named.</summary>
    internal Task<TokenContainer> ExchangeCodeAsync(TokenGrantTarget target, ClientAuthentication authentication, string code, Uri redirectUri, string verifier, CancellationToken cancellationToken)
    {
        var parameters = new List<KeyValuePair<string, string>>
        {
            new("grant_type", OAuthConstants.GrantTypeAuthorizationCode),
            new("code", code),
            new("redirect_uri", redirectUri.OriginalString),
            new("code_verifier", verifier),
        };
        AddResource(parameters, target);
        return RequestAsync(target, authentication, parameters, cancellationToken);
    }

    /// <summary>Adds <c>resource</c> (RFC 8707) when <paramref name="target"/> names one (also used for the authorization request).</summary>
    internal static void AddResource(List<KeyValuePair<string, string>> parameters, TokenGrantTarget target)
    {
        if (target.Resource is { } resource)
        {
            parameters.Add(new("resource", resource.OriginalString));
        }
    }

    private async Task<TokenContainer> RequestAsync(TokenGrantTarget target, ClientAuthentication authentication, List<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        var request = new TokenRequest
        {
            Endpoint = target.TokenEndpoint,
            Parameters = parameters,
            Authentication = authentication,
            Issuer = target.Issuer,
            AuthSigningAlgorithms = target.AuthSigningAlgorithms,
            RequiredTokenType = OAuthConstants.Bearer, // sent as a bearer token (RFC 6750), or as DPoP (RFC 9449)
            DPoP = _dpop,
        };
        var response = await _client.RequestAsync(request, cancellationToken).ConfigureAwait(false);
        return response.Tokens;
    }
}
