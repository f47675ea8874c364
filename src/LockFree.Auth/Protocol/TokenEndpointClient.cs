using System.Net;
using System.Text.Json;

namespace LockFree.Auth.Protocol;

/// <summary>One token request: where it goes, its grant parameters, the client authentication and what the response must satisfy.</summary>
internal sealed record TokenRequest
{
    /// <summary>The token endpoint.</summary>
    internal required Uri Endpoint { get; init; }

    /// <summary>The grant parameters (<c>grant_type</c> and the grant's own); client credentials are added by <see cref="Authentication"/>.</summary>
    internal required IReadOnlyList<KeyValuePair<string, string>> Parameters { get; init; }

    /// <summary>How the client authenticates.</summary>
    internal required ClientAuthentication Authentication { get; init; }

    /// <summary>The issuer of the server, when known (for assertion audiences and messages).</summary>
    internal Uri? Issuer { get; init; }

    /// <summary>The server's <c>token_endpoint_auth_signing_alg_values_supported</c>, when known (chooses the <c>client_secret_jwt</c> algorithm).</summary>
    internal IReadOnlyList<string>? AuthSigningAlgorithms { get; init; }

    /// <summary>What the endpoint is called in messages.</summary>
    internal string Purpose { get; init; } = "token endpoint";

    /// <summary>When set, <c>token_type</c> must equal it (case-insensitively), for example <c>Bearer</c>.</summary>
    internal string? RequiredTokenType { get; init; }

    /// <summary>
    /// When set, the request carries a DPoP proof (RFC 9449), a <c>use_dpop_nonce</c> answer is retried once with the
    /// nonce the server sent, and a <c>token_type</c> of <c>DPoP</c> is accepted besides <see cref="RequiredTokenType"/>.
    /// </summary>
    internal DPoPProofs? DPoP { get; init; }

    /// <summary>When set (RFC 8693), <c>issued_token_type</c> must be present and equal it.</summary>
    internal string? RequiredIssuedTokenType { get; init; }

    /// <summary>Describes the request with parameter names only: their values (codes, verifiers, refresh tokens, assertions) are secrets.</summary>
    public override string ToString() =>
        $"TokenRequest {{ Purpose = {Purpose}, Endpoint = {OAuthEndpoint.Describe(Endpoint)}, Parameters = [{string.Join(", ", Parameters.Select(static p => p.Key))}] }}";
}

/// <summary>A successful token response.</summary>
/// <param name="Tokens">The tokens (<see cref="TokenContainer.ObtainedAt"/> is when the request was sent).</param>
/// <param name="IssuedTokenType">RFC 8693 <c>issued_token_type</c>, if present.</param>
/// <param name="IdToken">The OpenID Connect <c>id_token</c>, if present (a secret).</param>
internal sealed record TokenEndpointResponse(TokenContainer Tokens, string? IssuedTokenType, string? IdToken)
{
    /// <summary>Describes the response without any token value.</summary>
    public override string ToString() => $"TokenEndpointResponse {{ {Tokens}, IssuedTokenType = {IssuedTokenType ?? "(none)"}, IdToken = {(IdToken is null ? "(none)" : "[redacted]")} }}";
}

/// <summary>
/// Sends token requests (form POST, client authentication) and turns the response into a
/// <see cref="TokenEndpointResponse"/> or an <see cref="OAuthException"/>.
/// </summary>
/// <remarks>
/// Validation: the endpoint must be https (http only on loopback); the request goes through <see cref="BackChannel"/>
/// (no redirect is followed, the body is read up to the size limit within the deadline); a success must be a JSON object with a non-empty <c>access_token</c>, a <c>token_type</c>, an optional non-negative
/// <c>expires_in</c>, and the required token types. An error status (or a 200 carrying <c>error</c> and no
/// <c>access_token</c>) becomes <see cref="OAuthFailureReason.ErrorResponse"/>.
/// Concurrency: immutable; one instance serves concurrent requests.
/// </remarks>
internal sealed class TokenEndpointClient
{
    /// <summary>Longest accepted <c>expires_in</c>: ten years.</summary>
    internal const long MaxExpiresInSeconds = 10L * 366 * 24 * 3600;

    private readonly IBackChannel _backChannel;
    private readonly TimeProvider _time;

    /// <summary>Creates a client that sends through <paramref name="backChannel"/> (its clock dates the tokens).</summary>
    internal TokenEndpointClient(IBackChannel backChannel)
    {
        ArgumentNullException.ThrowIfNull(backChannel);
        _backChannel = backChannel;
        _time = backChannel.TimeProvider;
    }

    /// <summary>Sends <paramref name="request"/> and validates the response.</summary>
    /// <exception cref="OAuthException">Any protocol failure.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    internal async Task<TokenEndpointResponse> RequestAsync(TokenRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var endpoint = request.Endpoint;
        OAuthEndpoint.Validate(endpoint, request.Purpose);

        // RFC 9449 §8: a use_dpop_nonce answer is retried once, with a new proof carrying the nonce it sent.
        for (var attempt = 0; ; attempt++)
        {
            using var message = OAuthHttp.CreateRequest(HttpMethod.Post, endpoint);
            var form = new List<KeyValuePair<string, string>>(request.Parameters.Count + 3);
            form.AddRange(request.Parameters);
            await request.Authentication.ApplyAsync(message, form, new ClientAuthenticationContext(endpoint, request.Issuer, _time, request.AuthSigningAlgorithms), cancellationToken).ConfigureAwait(false);
            message.Content = new FormUrlEncodedContent(form);
            var sentNonce = request.DPoP?.Nonces.Get(endpoint);
            if (request.DPoP is { } dpop)
            {
                await dpop.ApplyAsync(message, null, cancellationToken).ConfigureAwait(false);
            }

            // The lifetime counts from before the request was sent, so the computed expiry is never late.
            var obtainedAt = _time.GetUtcNow();
            var response = await _backChannel.SendAsync(message, request.Purpose, cancellationToken).ConfigureAwait(false);
            _ = request.DPoP?.Nonces.Update(endpoint, response.DPoPNonce);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                var error = OAuthHttp.ErrorFromResponse(response.StatusCode, response.Body, endpoint, request.Purpose);
                if (attempt == 0 && request.DPoP is { } nonceFor && error.Error == DPoPProofs.UseDPoPNonce
                    && nonceFor.Nonces.Get(endpoint) is { } nonce && !string.Equals(nonce, sentNonce, StringComparison.Ordinal))
                {
                    // Only when there is a nonce the refused proof did not carry: a retry with the same one cannot succeed.
                    continue;
                }

                throw error;
            }

            return Parse(response.Body, request, obtainedAt);
        }
    }

    /// <summary>Parses a 200 body. Exposed for tests and fuzzing.</summary>
    internal static TokenEndpointResponse Parse(byte[] body, TokenRequest request, DateTimeOffset obtainedAt)
    {
        var endpoint = request.Endpoint;
        using var document = OAuthHttp.ParseObject(body, endpoint, request.Purpose, HttpStatusCode.OK);
        var root = document.RootElement;
        if (!root.TryGetProperty("access_token", out _) && OAuthHttp.TryReadError(root, out var error, out var description, out var errorUri))
        {
            throw OAuthHttp.ErrorResponse(error, description, errorUri, HttpStatusCode.OK, endpoint, request.Purpose);
        }

        var json = new OAuthJson(root, endpoint, request.Purpose);
        var accessToken = json.GetRequiredString("access_token");
        var tokenType = json.GetRequiredString("token_type");
        var expiresIn = json.GetSeconds("expires_in", MaxExpiresInSeconds);
        var refreshToken = json.GetString("refresh_token");
        var scope = json.GetString("scope");
        var issuedTokenType = json.GetString("issued_token_type");
        var idToken = json.GetString("id_token");

        if (request.RequiredTokenType is { } requiredType && !string.Equals(tokenType, requiredType, StringComparison.OrdinalIgnoreCase)
            && !(request.DPoP is not null && string.Equals(tokenType, DPoPProofs.Scheme, StringComparison.OrdinalIgnoreCase)))
        {
            throw new OAuthException(
                $"The {request.Purpose} '{OAuthEndpoint.Describe(endpoint)}' issued a token of type '{OAuthHttp.Sanitize(tokenType)}', but '{requiredType}' is required.",
                OAuthFailureReason.UnexpectedTokenType,
                endpoint,
                HttpStatusCode.OK);
        }

        if (request.RequiredIssuedTokenType is { } requiredIssued && !string.Equals(issuedTokenType, requiredIssued, StringComparison.Ordinal))
        {
            throw new OAuthException(
                issuedTokenType is null
                    ? $"The {request.Purpose} '{OAuthEndpoint.Describe(endpoint)}' returned no 'issued_token_type', but '{requiredIssued}' is required."
                    : $"The {request.Purpose} '{OAuthEndpoint.Describe(endpoint)}' issued a token of type '{OAuthHttp.Sanitize(issuedTokenType)}', but '{requiredIssued}' is required.",
                OAuthFailureReason.UnexpectedTokenType,
                endpoint,
                HttpStatusCode.OK);
        }

        var tokens = new TokenContainer
        {
            AccessToken = accessToken,
            TokenType = tokenType,
            RefreshToken = string.IsNullOrEmpty(refreshToken) ? null : refreshToken,
            Scope = scope,
            ObtainedAt = obtainedAt,
            ExpiresIn = expiresIn,
        };
        return new TokenEndpointResponse(tokens, issuedTokenType, string.IsNullOrEmpty(idToken) ? null : idToken);
    }
}
