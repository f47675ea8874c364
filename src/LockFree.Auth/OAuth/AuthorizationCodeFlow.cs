using LockFree.Auth.Diagnostics;
using Microsoft.Extensions.Logging;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// The authorization code grant with PKCE (S256): builds the authorization request (state, scopes with
/// <c>offline_access</c> when advertised, resource, extra parameters), hands it to the
/// <see cref="ClientOAuthOptions.AuthorizationCallbackHandler"/>, validates the response (state, RFC 9207 iss,
/// error) and exchanges the code at the token endpoint.
/// </summary>
/// <remarks>Concurrency: immutable; each call is one authorization (the provider runs at most one per scope set and generation).</remarks>
internal sealed class AuthorizationCodeFlow
{
    private readonly ClientOAuthSettings _settings;
    private readonly TokenGrantClient _grants;
    private readonly ILogger _logger;

    /// <summary>Creates the flow; the code is exchanged through <paramref name="grants"/>.</summary>
    internal AuthorizationCodeFlow(ClientOAuthSettings settings, TokenGrantClient grants, ILogger logger)
    {
        _settings = settings;
        _grants = grants;
        _logger = logger;
    }

    /// <summary>Authorizes <paramref name="client"/> for <paramref name="scopes"/> at the server of <paramref name="metadata"/> and returns the tokens.</summary>
    /// <exception cref="OAuthException">The user or server refused, the response failed validation, or the exchange failed.</exception>
    internal async Task<TokenContainer> AuthorizeAsync(ServerMetadata metadata, ClientRegistration client, ScopeSet scopes, CancellationToken cancellationToken)
    {
        var authorizationEndpoint = metadata.AuthorizationEndpoint;
        OAuthEndpoint.Validate(authorizationEndpoint, "authorization endpoint");
        var redirectUri = _settings.RedirectUri!;
        var verifier = Pkce.CreateVerifier();
        var state = Pkce.CreateState();
        var requested = WithOfflineAccess(scopes, metadata);

        var query = new List<KeyValuePair<string, string>>
        {
            new("response_type", "code"),
            new("client_id", client.ClientId),
            new("redirect_uri", redirectUri.OriginalString),
            new("code_challenge", Pkce.ChallengeS256(verifier)),
            new("code_challenge_method", "S256"),
            new("state", state),
        };
        if (!requested.IsEmpty)
        {
            query.Add(new("scope", requested.Key));
        }

        TokenGrantClient.AddResource(query, metadata.GrantTarget);
        foreach (var (name, value) in _settings.AdditionalAuthorizationParameters)
        {
            if (!query.Exists(p => string.Equals(p.Key, name, StringComparison.Ordinal)))
            {
                query.Add(new(name, value));
            }
        }

        var authorizationUri = OAuthQuery.Append(authorizationEndpoint, query);
        Log.ClientOAuth.WaitingForUser(_logger, authorizationEndpoint);
        var issRequired = metadata.AuthorizationServer?.AuthorizationResponseIssParameterSupported == true;
        var result = await _settings.AuthorizationCallbackHandler!(
            new AuthorizationCallbackContext { AuthorizationUri = authorizationUri, RedirectUri = redirectUri, State = state, Issuer = metadata.IssuerText, IssuerRequired = issRequired },
            cancellationToken).ConfigureAwait(false);

        var code = Validate(result, state, issRequired, metadata, authorizationEndpoint);

        // RFC 8252 §7.3: a loopback listener may have used another port than the configured one; the token request must
        // name the redirect URI the authorization request named.
        redirectUri = LoopbackRedirect.ResolveReported(redirectUri, result!.RedirectUri, authorizationEndpoint);

        var authentication = ClientAuthentication.Create(client.TokenEndpointAuthMethod, client.ClientId, client.ClientSecret, _settings.ClientAssertion);
        return await _grants.ExchangeCodeAsync(metadata.GrantTarget, authentication, code, redirectUri, verifier, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The code of a valid authorization response; throws for a missing one, a state or iss mismatch, or an error response.</summary>
    private static string Validate(AuthorizationResult? result, string state, bool issRequired, ServerMetadata metadata, Uri authorizationEndpoint)
    {
        if (result is null)
        {
            throw new OAuthException("The authorization was not completed: no authorization code was returned.", OAuthFailureReason.InvalidInput, authorizationEndpoint, error: "access_denied");
        }

        if (!Pkce.FixedTimeEquals(result.State, state))
        {
            throw new OAuthException("The authorization response has a 'state' that does not match the request (possible CSRF); it was rejected.", OAuthFailureReason.InvalidInput, authorizationEndpoint);
        }

        if (result.Iss is not null || issRequired)
        {
            // RFC 9207: the iss parameter must name the issuer the request went to (mix-up attack defence), error responses included.
            // Compared by exact string equality with the metadata's issuer, without normalization.
            if (!string.Equals(result.Iss, metadata.IssuerText, StringComparison.Ordinal))
            {
                throw new OAuthException("The authorization response's 'iss' does not name the authorization server the request was sent to (RFC 9207); it was rejected.", OAuthFailureReason.IssuerMismatch, authorizationEndpoint);
            }
        }

        if (OAuthHttp.Sanitize(result.Error) is { } authorizationError)
        {
            // RFC 6749 §4.1.2.1: the authorization server (or the user) refused; state and iss are already verified.
            throw OAuthHttp.ErrorResponse(authorizationError, OAuthHttp.Sanitize(result.ErrorDescription), result.ErrorUri, null, authorizationEndpoint, "authorization endpoint");
        }

        if (string.IsNullOrEmpty(result.Code))
        {
            throw new OAuthException("The authorization was not completed: no authorization code was returned.", OAuthFailureReason.InvalidInput, authorizationEndpoint, error: "access_denied");
        }

        return result.Code;
    }

    private static ScopeSet WithOfflineAccess(ScopeSet scopes, ServerMetadata metadata)
    {
        const string OfflineAccess = "offline_access";
        var supported = metadata.AuthorizationServer?.ScopesSupported;
        if (supported is null)
        {
            return scopes;
        }

        if (supported.Contains(OfflineAccess))
        {
            return scopes.Union(ScopeSet.Parse(OfflineAccess)!);
        }

        return scopes.Without(OfflineAccess);
    }
}
