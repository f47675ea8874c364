using System.Net;
using System.Text.Json;

namespace LockFree.Auth.Testing;

/// <summary>
/// A fake OAuth authorization server (or enterprise IdP) on a <see cref="FakeHttpHandler"/>: serves RFC 8414 metadata
/// at the well-known location of its issuer (path insertion) and a token endpoint that issues numbered tokens for the
/// client-credentials, refresh-token, RFC 8693 token-exchange (ID-JAG) and RFC 7523 jwt-bearer grants.
/// Counts token requests per grant type; responses can be overridden and requests held through the handler.
/// </summary>
public sealed class FakeOAuthServer
{
    private readonly FakeHttpHandler _handler;
    private int _issued;
    private readonly object _sync = new();
    private readonly Dictionary<string, int> _grants = new(StringComparer.Ordinal);

    /// <summary>Creates the server and registers its routes on <paramref name="handler"/>.</summary>
    /// <param name="handler">The handler to register on.</param>
    /// <param name="issuer">The issuer, e.g. <c>https://as.example.com</c> or <c>https://idp.example.com/tenant</c>.</param>
    /// <param name="tokenPrefix">Prefix of issued tokens (e.g. <c>as</c> or <c>idp</c>).</param>
    public FakeOAuthServer(FakeHttpHandler handler, string issuer, string tokenPrefix = "token")
    {
        _handler = handler;
        Issuer = issuer.TrimEnd('/');
        TokenPrefix = tokenPrefix;
        var uri = new Uri(Issuer);
        var origin = uri.GetLeftPart(UriPartial.Authority);
        var path = uri.AbsolutePath.TrimEnd('/');
        MetadataUrl = origin + "/.well-known/oauth-authorization-server" + path;
        TokenEndpoint = Issuer + "/token";
        handler.On(HttpMethod.Get, MetadataUrl, _ => FakeResponses.Json(MetadataJson()));
        handler.On(HttpMethod.Post, TokenEndpoint, Token);
    }

    /// <summary>The issuer (no trailing slash).</summary>
    public string Issuer { get; }

    /// <summary>Prefix of issued tokens.</summary>
    public string TokenPrefix { get; }

    /// <summary>Where the metadata is served (RFC 8414 path insertion).</summary>
    public string MetadataUrl { get; }

    /// <summary>The token endpoint (issuer + <c>/token</c>).</summary>
    public string TokenEndpoint { get; set; }

    /// <summary>Advertised <c>token_endpoint_auth_methods_supported</c> (null: omitted).</summary>
    public string[]? AuthMethodsSupported { get; set; } = ["client_secret_basic", "client_secret_post", "none"];

    /// <summary>Extra members merged into the metadata document.</summary>
    public Dictionary<string, object?> ExtraMetadata { get; } = [];

    /// <summary>The <c>expires_in</c> of issued tokens (null: omitted).</summary>
    public int? ExpiresIn { get; set; } = 3600;

    /// <summary>The <c>token_type</c> of issued access tokens (token exchange always answers <c>N_A</c> unless <see cref="ExchangeTokenType"/> is set).</summary>
    public string TokenType { get; set; } = "Bearer";

    /// <summary>The <c>token_type</c> of token-exchange responses.</summary>
    public string ExchangeTokenType { get; set; } = "N_A";

    /// <summary>The <c>issued_token_type</c> of token-exchange responses.</summary>
    public string IssuedTokenType { get; set; } = "urn:ietf:params:oauth:token-type:id-jag";

    /// <summary>Called for every token request before the default response; return non-null to answer instead.</summary>
    public Func<FakeRequest, HttpResponseMessage?>? TokenResponder { get; set; }

    /// <summary>How many tokens were issued.</summary>
    public int Issued => Volatile.Read(ref _issued);

    /// <summary>Token requests received for <paramref name="grantType"/>.</summary>
    public int GrantCount(string grantType)
    {
        lock (_sync) { return _grants.GetValueOrDefault(grantType); }
    }

    /// <summary>Token requests received in total.</summary>
    public int TokenRequests => _handler.CountOf(TokenEndpoint);

    /// <summary>Metadata requests received.</summary>
    public int MetadataRequests => _handler.CountOf(MetadataUrl);

    /// <summary>The token requests received.</summary>
    public IReadOnlyList<FakeRequest> TokenRequestsReceived => _handler.RequestsTo(TokenEndpoint);

    /// <summary>Holds token requests until the gate is released.</summary>
    public FakeGate HoldTokens() => _handler.Hold(TokenEndpoint);

    /// <summary>Stops holding token requests.</summary>
    public void UnholdTokens() => _handler.Unhold(TokenEndpoint);

    /// <summary>The metadata document.</summary>
    public string MetadataJson()
    {
        var document = new Dictionary<string, object?>
        {
            ["issuer"] = Issuer,
            ["token_endpoint"] = TokenEndpoint,
            ["authorization_endpoint"] = Issuer + "/authorize",
            ["grant_types_supported"] = new[] { "authorization_code", "client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange" },
            ["code_challenge_methods_supported"] = new[] { "S256" },
        };
        if (AuthMethodsSupported is not null)
        {
            document["token_endpoint_auth_methods_supported"] = AuthMethodsSupported;
        }

        foreach (var (key, value) in ExtraMetadata)
        {
            document[key] = value;
        }

        return JsonSerializer.Serialize(document);
    }

    private HttpResponseMessage Token(FakeRequest request)
    {
        var grant = request["grant_type"] ?? string.Empty;
        lock (_sync) { _grants[grant] = _grants.GetValueOrDefault(grant) + 1; }
        if (TokenResponder?.Invoke(request) is { } custom)
        {
            return custom;
        }

        var number = Interlocked.Increment(ref _issued);
        var exchange = grant == "urn:ietf:params:oauth:grant-type:token-exchange";
        var body = new Dictionary<string, object?>
        {
            ["access_token"] = exchange ? $"{TokenPrefix}-idjag-{number}" : $"{TokenPrefix}-access-{number}",
            ["token_type"] = exchange ? ExchangeTokenType : TokenType,
        };
        if (ExpiresIn is { } e) { body["expires_in"] = e; }
        if (exchange) { body["issued_token_type"] = IssuedTokenType; }
        if (request["scope"] is { } scope) { body["scope"] = scope; }
        return FakeResponses.Json(JsonSerializer.Serialize(body), HttpStatusCode.OK);
    }
}
