using System.Net;

namespace LockFree.Auth.Protocol;

/// <summary>
/// Authorization server metadata (RFC 8414, or OpenID Connect Discovery 1.0) as discovered for one issuer.
/// </summary>
/// <remarks>
/// <para>
/// A list property is <see langword="null"/> when the server did not advertise it (which differs from an empty list:
/// for example an absent <see cref="TokenEndpointAuthMethodsSupported"/> means <c>client_secret_basic</c> per RFC 8414).
/// Endpoints are absolute http(s) URIs; whether they may be used (https, or http on loopback) is checked when a
/// request is sent to them.
/// </para>
/// <para>Concurrency: immutable; one instance is shared by every caller of a provider.</para>
/// </remarks>
internal sealed record AuthorizationServerMetadata
{
    /// <summary>The issuer identifier; discovery checked that it equals the issuer asked for.</summary>
    public required Uri Issuer { get; init; }

    /// <summary>The authorization endpoint (<c>authorization_endpoint</c>).</summary>
    public Uri? AuthorizationEndpoint { get; init; }

    /// <summary>The token endpoint (<c>token_endpoint</c>).</summary>
    public Uri? TokenEndpoint { get; init; }

    /// <summary>The dynamic client registration endpoint (<c>registration_endpoint</c>, RFC 7591).</summary>
    public Uri? RegistrationEndpoint { get; init; }

    /// <summary>The JSON Web Key Set document (<c>jwks_uri</c>).</summary>
    public Uri? JwksUri { get; init; }

    /// <summary>The revocation endpoint (<c>revocation_endpoint</c>, RFC 7009).</summary>
    public Uri? RevocationEndpoint { get; init; }

    /// <summary>The introspection endpoint (<c>introspection_endpoint</c>, RFC 7662).</summary>
    public Uri? IntrospectionEndpoint { get; init; }

    /// <summary>The scopes the server supports (<c>scopes_supported</c>).</summary>
    public IReadOnlyList<string>? ScopesSupported { get; init; }

    /// <summary>The response types the server supports (<c>response_types_supported</c>).</summary>
    public IReadOnlyList<string>? ResponseTypesSupported { get; init; }

    /// <summary>The grant types the server supports (<c>grant_types_supported</c>).</summary>
    public IReadOnlyList<string>? GrantTypesSupported { get; init; }

    /// <summary>The client authentication methods of the token endpoint (<c>token_endpoint_auth_methods_supported</c>).</summary>
    public IReadOnlyList<string>? TokenEndpointAuthMethodsSupported { get; init; }

    /// <summary>The signing algorithms for <c>private_key_jwt</c> and <c>client_secret_jwt</c> (<c>token_endpoint_auth_signing_alg_values_supported</c>).</summary>
    public IReadOnlyList<string>? TokenEndpointAuthSigningAlgValuesSupported { get; init; }

    /// <summary>The PKCE methods the server supports (<c>code_challenge_methods_supported</c>).</summary>
    public IReadOnlyList<string>? CodeChallengeMethodsSupported { get; init; }

    /// <summary>Whether the server accepts URL-formatted client IDs resolving to a client ID metadata document (<c>client_id_metadata_document_supported</c>).</summary>
    public bool ClientIdMetadataDocumentSupported { get; init; }

    /// <summary>Whether the server sends <c>iss</c> in authorization responses (<c>authorization_response_iss_parameter_supported</c>, RFC 9207).</summary>
    public bool AuthorizationResponseIssParameterSupported { get; init; }

    /// <summary>Parses a metadata document and checks that its issuer equals <paramref name="expectedIssuer"/>. Exposed for tests and fuzzing.</summary>
    /// <exception cref="OAuthException">Malformed document or another issuer.</exception>
    internal static AuthorizationServerMetadata Parse(byte[] body, Uri expectedIssuer, Uri source)
    {
        const string Purpose = "metadata endpoint";
        using var document = OAuthHttp.ParseObject(body, source, Purpose, HttpStatusCode.OK);
        var json = new OAuthJson(document.RootElement, source, Purpose);
        var issuerText = json.GetRequiredString("issuer");
        var issuer = OAuthEndpoint.TryParseAbsolute(issuerText);
        if (issuer is null || !IssuerEquals(issuer, expectedIssuer))
        {
            throw new OAuthException(
                $"The metadata at '{OAuthEndpoint.Describe(source)}' names the issuer '{OAuthHttp.Sanitize(issuerText)}', not the expected '{expectedIssuer}'.",
                OAuthFailureReason.IssuerMismatch,
                source,
                HttpStatusCode.OK);
        }

        return new AuthorizationServerMetadata
        {
            Issuer = issuer,
            AuthorizationEndpoint = json.GetUri("authorization_endpoint"),
            TokenEndpoint = json.GetUri("token_endpoint"),
            RegistrationEndpoint = json.GetUri("registration_endpoint"),
            JwksUri = json.GetUri("jwks_uri"),
            RevocationEndpoint = json.GetUri("revocation_endpoint"),
            IntrospectionEndpoint = json.GetUri("introspection_endpoint"),
            ScopesSupported = json.GetStringArray("scopes_supported"),
            ResponseTypesSupported = json.GetStringArray("response_types_supported"),
            GrantTypesSupported = json.GetStringArray("grant_types_supported"),
            TokenEndpointAuthMethodsSupported = json.GetStringArray("token_endpoint_auth_methods_supported"),
            TokenEndpointAuthSigningAlgValuesSupported = json.GetStringArray("token_endpoint_auth_signing_alg_values_supported"),
            CodeChallengeMethodsSupported = json.GetStringArray("code_challenge_methods_supported"),
            ClientIdMetadataDocumentSupported = json.GetBoolean("client_id_metadata_document_supported") ?? false,
            AuthorizationResponseIssParameterSupported = json.GetBoolean("authorization_response_iss_parameter_supported") ?? false,
        };
    }

    /// <summary>
    /// RFC 8414 §3.3: the issuer must be identical to the one asked for. Compared as URIs: scheme, host (case-insensitive),
    /// port and path (one trailing '/' ignored, since <c>https://as.example</c> and <c>https://as.example/</c> are the same URI).
    /// </summary>
    internal static bool IssuerEquals(Uri actual, Uri expected) =>
        string.Equals(actual.Scheme, expected.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(actual.IdnHost, expected.IdnHost, StringComparison.OrdinalIgnoreCase)
        && actual.Port == expected.Port
        && string.Equals(actual.AbsolutePath.TrimEnd('/'), expected.AbsolutePath.TrimEnd('/'), StringComparison.Ordinal)
        && actual.Query.Length == 0
        && expected.Query.Length == 0;

    /// <summary>Describes the metadata (it holds no secrets).</summary>
    public override string ToString() => $"AuthorizationServerMetadata {{ Issuer = {Issuer}, TokenEndpoint = {TokenEndpoint?.ToString() ?? "(none)"} }}";
}
