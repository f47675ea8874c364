using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LockFree.Auth.Testing.OAuth;

/// <summary>Where the fake serves protected resource metadata.</summary>
public enum PrmLocation
{
    /// <summary>Path-specific well-known URL, also named in the challenge.</summary>
    PathSpecificInChallenge,

    /// <summary>Path-specific well-known URL, not named in the challenge.</summary>
    PathSpecific,

    /// <summary>Root well-known URL only (resource = origin), not named in the challenge.</summary>
    Root,

    /// <summary>A custom URL only, named in the challenge.</summary>
    CustomInChallenge,

    /// <summary>Nowhere (2025-03-26 servers).</summary>
    None,
}

/// <summary>
/// An in-memory MCP protected resource plus OAuth 2.1 authorization server, as one <see cref="HttpMessageHandler"/>
/// (use it both as the resource client's inner handler and as the back channel). Deterministic; counts everything;
/// issues rotating refresh tokens (a reused one gets <c>invalid_grant</c>); holds token requests behind a gate.
/// Thread-safe (Interlocked and concurrent collections). The authorization endpoint is "visited" with
/// <see cref="AuthorizeAsync"/> from the test's authorization callback.
/// </summary>
public sealed class FakeMcpAuthServer : HttpMessageHandler
{
    public const string ResourceOrigin = "https://mcp.example.com";
    public const string ResourceUrl = ResourceOrigin + "/mcp";

    private readonly ConcurrentDictionary<string, IssuedToken> _accessTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RefreshGrant> _refreshTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PendingCode> _codes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly ConcurrentQueue<IReadOnlyDictionary<string, string>> _authorizations = new();
    private readonly ConcurrentDictionary<string, string> _scopeForPath = new(StringComparer.Ordinal);
    private int _tokenCounter;
    private int _refreshCounter;
    private int _codeCounter;
    private int _clientCounter;
    private int _invalidGrants;
    private int _refreshGrants;
    private int _codeGrants;
    private int _clientCredentialsGrants;
    private int _registrations;
    private int _prmRequests;
    private int _asMetadataRequests;
    private int _resourceRequests;
    private volatile TaskCompletionSource? _tokenGate;
    private volatile TaskCompletionSource? _registrationGate;
    private int _registrationArrivals;
    private int _tokenArrivals;
    private volatile TaskCompletionSource? _resourceGate;
    private int _resourceArrivals;
    private int _unauthorized;
    private int _refreshResourceRejections;

    public FakeMcpAuthServer(TimeProvider time) => Time = time;

    public TimeProvider Time { get; }

    // ------------------------------------------------------------ configuration
    public string Issuer { get; set; } = "https://auth.example.com";
    public PrmLocation PrmLocation { get; set; } = PrmLocation.PathSpecificInChallenge;
    public string CustomPrmUrl { get; set; } = ResourceOrigin + "/custom/metadata/location.json";
    public string? PrmResourceOverride { get; set; }
    public string[]? PrmScopesSupported { get; set; }
    public string? ChallengeScope { get; set; }
    public bool ServeAsMetadata { get; set; } = true;
    public bool RegistrationEnabled { get; set; } = true;
    public bool CimdSupported { get; set; }
    public bool IssParameterSupported { get; set; }
    public string[] AuthMethodsSupported { get; set; } = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"];
    public string[]? AsScopesSupported { get; set; }
    public string[]? AuthSigningAlgValuesSupported { get; set; }
    public string[]? CodeChallengeMethods { get; set; } = ["S256"];
    public int ExpiresInSeconds { get; set; } = 3600;
    public bool IssueRefreshTokens { get; set; } = true;
    public bool RotateRefreshTokens { get; set; } = true;
    public bool OmitRefreshTokenOnRefresh { get; set; }

    /// <summary>Whether the client credentials grant also issues a (rotating) refresh token, as some servers do.</summary>
    public bool IssueRefreshTokensForClientCredentials { get; set; }
    public string? RegisteredAuthMethod { get; set; }
    public string RegisteredSecret { get; set; } = "registered-secret";

    /// <summary>
    /// When set, a refresh request that carries <c>resource</c> gets HTTP 400 with this <c>error</c> and
    /// <c>error_description</c> (as Microsoft Entra answers with AADSTS9010010), before the refresh token is looked at.
    /// </summary>
    public (string Error, string Description)? RefreshResourceRejection { get; set; }

    /// <summary>Refresh requests answered with <see cref="RefreshResourceRejection"/>.</summary>
    public int RefreshResourceRejections => Volatile.Read(ref _refreshResourceRejections);

    /// <summary>When set, the resource rejects every token with 401 (a misconfigured resource).</summary>
    public bool RejectEveryToken { get; set; }

    /// <summary>The <c>token_type</c> of token responses.</summary>
    public string TokenType { get; set; } = "Bearer";

    /// <summary>Pre-registered confidential clients: id → secret.</summary>
    public ConcurrentDictionary<string, string> Clients { get; } = new(StringComparer.Ordinal);

    /// <summary>Verifies <c>private_key_jwt</c> assertions (set by tests that use it); returns the client id or null.</summary>
    public Func<string, string?>? AssertionValidator { get; set; }

    /// <summary>Requires <paramref name="scope"/> (space-separated) for requests to <paramref name="path"/>: others get 403 insufficient_scope.</summary>
    public void RequireScope(string path, string scope) => _scopeForPath[path] = scope;

    // ------------------------------------------------------------ observations
    public int RefreshGrants => Volatile.Read(ref _refreshGrants);
    public int CodeGrants => Volatile.Read(ref _codeGrants);
    public int ClientCredentialsGrants => Volatile.Read(ref _clientCredentialsGrants);
    public int TokenRequests => RefreshGrants + CodeGrants + ClientCredentialsGrants;
    public int InvalidGrants => Volatile.Read(ref _invalidGrants);
    public int Registrations => Volatile.Read(ref _registrations);
    public int PrmRequests => Volatile.Read(ref _prmRequests);
    public int AsMetadataRequests => Volatile.Read(ref _asMetadataRequests);
    public int ResourceRequests => Volatile.Read(ref _resourceRequests);
    public int Authorizations => _authorizations.Count;
    public IReadOnlyList<IReadOnlyDictionary<string, string>> AuthorizationRequests => [.. _authorizations];
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];
    public IReadOnlyList<RecordedRequest> TokenEndpointRequests => _requests.Where(r => r.Path == "/token").ToList();
    public IReadOnlyList<RecordedRequest> RegistrationRequests => _requests.Where(r => r.Path == "/register").ToList();

    public HttpClient CreateClient() => new(this, disposeHandler: false);

    /// <summary>Holds every token request until the returned source completes; <see cref="TokenArrivals"/> counts the held ones.</summary>
    public TaskCompletionSource HoldTokenEndpoint()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _tokenGate = gate;
        return gate;
    }

    public int TokenArrivals => Volatile.Read(ref _tokenArrivals);

    /// <summary>Holds every registration request until the returned source completes; <see cref="RegistrationArrivals"/> counts the held ones.</summary>
    public TaskCompletionSource HoldRegistrationEndpoint()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _registrationGate = gate;
        return gate;
    }

    public int RegistrationArrivals => Volatile.Read(ref _registrationArrivals);

    /// <summary>Holds every resource request that arrives from now on until <see cref="ReleaseResource"/>.</summary>
    public void HoldResource() => _resourceGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets the held resource requests through (later ones are not held).</summary>
    public void ReleaseResource()
    {
        var gate = _resourceGate;
        _resourceGate = null;
        gate?.TrySetResult();
    }

    public int ResourceArrivals => Volatile.Read(ref _resourceArrivals);

    /// <summary>How many requests the resource rejected with 401.</summary>
    public int Unauthorized => Volatile.Read(ref _unauthorized);

    /// <summary>Makes every access token issued so far invalid at the resource (as if revoked).</summary>
    public void RevokeAllAccessTokens()
    {
        foreach (var key in _accessTokens.Keys)
        {
            _accessTokens[key] = _accessTokens[key] with { Revoked = true };
        }
    }

    /// <summary>Makes <paramref name="accessToken"/> invalid at the resource (as if revoked).</summary>
    public void Revoke(string accessToken) => _accessTokens[accessToken] = _accessTokens[accessToken] with { Revoked = true };

    /// <summary>Whether <paramref name="accessToken"/> was issued by this fake.</summary>
    public bool Issued(string accessToken) => _accessTokens.ContainsKey(accessToken);

    /// <summary>
    /// The user-agent leg: validates the authorization request like an authorization endpoint and returns what the
    /// redirect would carry (code, the client's state, and iss when advertised).
    /// </summary>
    public AuthorizationResult Authorize(Uri authorizationUri)
    {
        var query = ParseForm(authorizationUri.Query.TrimStart('?'));
        _authorizations.Enqueue(query);
        if (query.GetValueOrDefault("response_type") != "code" || !query.TryGetValue("code_challenge", out var challenge)
            || query.GetValueOrDefault("code_challenge_method") != "S256" || !query.TryGetValue("client_id", out var clientId))
        {
            throw new InvalidOperationException("Invalid authorization request.");
        }

        var code = "code-" + Interlocked.Increment(ref _codeCounter);
        _codes[code] = new PendingCode(clientId, challenge, query.GetValueOrDefault("redirect_uri"), query.GetValueOrDefault("scope"), query.GetValueOrDefault("resource"));
        return new AuthorizationResult { Code = code, State = query.GetValueOrDefault("state"), Iss = IssParameterSupported ? Issuer : null };
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken);
        var uri = request.RequestUri!;
        var recorded = new RecordedRequest(request.Method, uri, uri.AbsolutePath, request.Headers.Authorization, body,
            request.Content?.Headers.ContentType?.MediaType == "application/x-www-form-urlencoded" ? ParseForm(body) : new Dictionary<string, string>());
        _requests.Enqueue(recorded);
        var response = await RouteAsync(recorded, cancellationToken);
        response.RequestMessage = request;
        return response;
    }

    private async Task<HttpResponseMessage> RouteAsync(RecordedRequest r, CancellationToken cancellationToken)
    {
        var origin = r.Uri.GetLeftPart(UriPartial.Authority);
        var issuerUri = new Uri(Issuer);
        var issuerOrigin = issuerUri.GetLeftPart(UriPartial.Authority);
        var issuerPath = issuerUri.AbsolutePath.TrimEnd('/');

        if (origin == ResourceOrigin)
        {
            switch (r.Path)
            {
                case "/.well-known/oauth-protected-resource/mcp" when PrmLocation is PrmLocation.PathSpecific or PrmLocation.PathSpecificInChallenge:
                    Interlocked.Increment(ref _prmRequests);
                    return Prm(ResourceUrl);
                case "/.well-known/oauth-protected-resource" when PrmLocation is PrmLocation.Root:
                    Interlocked.Increment(ref _prmRequests);
                    return Prm(ResourceOrigin);
                case var p when PrmLocation is PrmLocation.CustomInChallenge && ResourceOrigin + p == CustomPrmUrl:
                    Interlocked.Increment(ref _prmRequests);
                    return Prm(ResourceUrl);
            }

            if (r.Path.StartsWith("/mcp", StringComparison.Ordinal))
            {
                if (_resourceGate is { } resourceGate)
                {
                    Interlocked.Increment(ref _resourceArrivals);
                    await resourceGate.Task.WaitAsync(cancellationToken);
                }

                return Resource(r);
            }
        }

        if (origin == issuerOrigin)
        {
            if (ServeAsMetadata && (r.Path == "/.well-known/oauth-authorization-server" + issuerPath || r.Path == "/.well-known/openid-configuration" + issuerPath))
            {
                Interlocked.Increment(ref _asMetadataRequests);
                return AsMetadata();
            }

            switch (r.Path)
            {
                case "/token" when r.Method == HttpMethod.Post:
                    return await TokenAsync(r, cancellationToken);
                case "/register" when r.Method == HttpMethod.Post && RegistrationEnabled:
                    if (_registrationGate is { } registrationGate)
                    {
                        Interlocked.Increment(ref _registrationArrivals);
                        await registrationGate.Task.WaitAsync(cancellationToken);
                    }

                    return Register(r);
            }
        }

        return new HttpResponseMessage(HttpStatusCode.NotFound);
    }

    private HttpResponseMessage Prm(string resource)
    {
        var json = new JsonObject
        {
            ["resource"] = PrmResourceOverride ?? resource,
            ["authorization_servers"] = new JsonArray(Issuer),
        };
        if (PrmScopesSupported is not null)
        {
            json["scopes_supported"] = new JsonArray(PrmScopesSupported.Select(s => (JsonNode)s).ToArray());
        }

        return Json(json);
    }

    private HttpResponseMessage AsMetadata()
    {
        var origin = new Uri(Issuer).GetLeftPart(UriPartial.Authority);
        var json = new JsonObject
        {
            ["issuer"] = Issuer,
            ["authorization_endpoint"] = origin + "/authorize",
            ["token_endpoint"] = origin + "/token",
            ["response_types_supported"] = new JsonArray("code"),
            ["token_endpoint_auth_methods_supported"] = new JsonArray(AuthMethodsSupported.Select(s => (JsonNode)s).ToArray()),
        };
        if (RegistrationEnabled) { json["registration_endpoint"] = origin + "/register"; }
        if (CimdSupported) { json["client_id_metadata_document_supported"] = true; }
        if (IssParameterSupported) { json["authorization_response_iss_parameter_supported"] = true; }
        if (CodeChallengeMethods is not null) { json["code_challenge_methods_supported"] = new JsonArray(CodeChallengeMethods.Select(s => (JsonNode)s).ToArray()); }
        if (AsScopesSupported is not null) { json["scopes_supported"] = new JsonArray(AsScopesSupported.Select(s => (JsonNode)s).ToArray()); }
        if (AuthSigningAlgValuesSupported is not null) { json["token_endpoint_auth_signing_alg_values_supported"] = new JsonArray(AuthSigningAlgValuesSupported.Select(s => (JsonNode)s).ToArray()); }
        return Json(json);
    }

    private HttpResponseMessage Resource(RecordedRequest r)
    {
        Interlocked.Increment(ref _resourceRequests);
        var auth = r.Authorization;
        if (auth is null || auth.Scheme != "Bearer" || auth.Parameter is null || !_accessTokens.TryGetValue(auth.Parameter, out var token)
            || token.Revoked || RejectEveryToken || Time.GetUtcNow() >= token.ExpiresAt)
        {
            Interlocked.Increment(ref _unauthorized);
            return Challenge(HttpStatusCode.Unauthorized, "invalid_token", ChallengeScope);
        }

        if (_scopeForPath.TryGetValue(r.Path, out var required))
        {
            var granted = (token.Scope ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            if (!required.Split(' ').All(granted.Contains))
            {
                return Challenge(HttpStatusCode.Forbidden, "insufficient_scope", required);
            }
        }

        return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("echo:" + r.Body) };
    }

    private HttpResponseMessage Challenge(HttpStatusCode status, string error, string? scope)
    {
        var response = new HttpResponseMessage(status);
        var header = new StringBuilder($"Bearer error=\"{error}\", error_description=\"token \\\"rejected\\\", try again\"");
        if (scope is not null) { header.Append($", scope=\"{scope}\""); }
        var prm = PrmLocation switch
        {
            PrmLocation.PathSpecificInChallenge => ResourceOrigin + "/.well-known/oauth-protected-resource/mcp",
            PrmLocation.CustomInChallenge => CustomPrmUrl,
            _ => null,
        };
        if (prm is not null) { header.Append($", resource_metadata=\"{prm}\""); }
        response.Headers.TryAddWithoutValidation("WWW-Authenticate", header.ToString());
        return response;
    }

    private HttpResponseMessage Register(RecordedRequest r)
    {
        Interlocked.Increment(ref _registrations);
        using var doc = JsonDocument.Parse(r.Body);
        var method = RegisteredAuthMethod ?? (doc.RootElement.TryGetProperty("token_endpoint_auth_method", out var m) ? m.GetString()! : "client_secret_basic");
        var id = "dcr-client-" + Interlocked.Increment(ref _clientCounter);
        var json = new JsonObject { ["client_id"] = id, ["token_endpoint_auth_method"] = method };
        if (method != "none")
        {
            json["client_secret"] = RegisteredSecret;
            Clients[id] = RegisteredSecret;
        }

        return Json(json, HttpStatusCode.Created);
    }

    private async Task<HttpResponseMessage> TokenAsync(RecordedRequest r, CancellationToken cancellationToken)
    {
        if (_tokenGate is { } gate)
        {
            Interlocked.Increment(ref _tokenArrivals);
            await gate.Task.WaitAsync(cancellationToken);
        }

        var form = r.Form;
        var clientId = AuthenticateClient(r, out var authError);
        if (authError is not null)
        {
            return Error("invalid_client", HttpStatusCode.Unauthorized);
        }

        switch (form.GetValueOrDefault("grant_type"))
        {
            case "authorization_code":
            {
                Interlocked.Increment(ref _codeGrants);
                if (!form.TryGetValue("code", out var code) || !_codes.TryRemove(code, out var pending) || pending.ClientId != clientId
                    || !form.TryGetValue("code_verifier", out var verifier)
                    || Base64UrlEncode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))) != pending.Challenge
                    || form.GetValueOrDefault("redirect_uri") != pending.RedirectUri
                    || form.GetValueOrDefault("resource") != pending.Resource)
                {
                    Interlocked.Increment(ref _invalidGrants);
                    return Error("invalid_grant");
                }

                return Issue(clientId!, pending.Scope, pending.Resource, refresh: IssueRefreshTokens);
            }

            case "refresh_token":
            {
                Interlocked.Increment(ref _refreshGrants);
                if (RefreshResourceRejection is { } rejection && form.ContainsKey("resource"))
                {
                    // Entra's shape: error, a description with trace lines, error_codes; the refresh token stays valid.
                    Interlocked.Increment(ref _refreshResourceRejections);
                    return Json(new JsonObject
                    {
                        ["error"] = rejection.Error,
                        ["error_description"] = rejection.Description,
                        ["error_codes"] = new JsonArray(9010010),
                        ["trace_id"] = "00000000-0000-0000-0000-000000000000",
                    }, HttpStatusCode.BadRequest);
                }

                if (!form.TryGetValue("refresh_token", out var rt) || !_refreshTokens.TryGetValue(rt, out var grant) || grant.Used || grant.ClientId != clientId)
                {
                    Interlocked.Increment(ref _invalidGrants);
                    return Error("invalid_grant");
                }

                if (RotateRefreshTokens && !_refreshTokens.TryUpdate(rt, grant with { Used = true }, grant))
                {
                    Interlocked.Increment(ref _invalidGrants);
                    return Error("invalid_grant");
                }

                return Issue(clientId!, grant.Scope, form.GetValueOrDefault("resource"), refresh: RotateRefreshTokens && !OmitRefreshTokenOnRefresh);
            }

            case "client_credentials":
                Interlocked.Increment(ref _clientCredentialsGrants);
                return Issue(clientId!, form.GetValueOrDefault("scope"), form.GetValueOrDefault("resource"), refresh: IssueRefreshTokensForClientCredentials);

            default:
                return Error("unsupported_grant_type");
        }
    }

    private string? AuthenticateClient(RecordedRequest r, out string? error)
    {
        error = null;
        var form = r.Form;
        if (r.Authorization is { Scheme: "Basic", Parameter: { } basic })
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(basic));
            var colon = decoded.IndexOf(':');
            var id = Uri.UnescapeDataString(decoded[..colon].Replace('+', ' '));
            var secret = Uri.UnescapeDataString(decoded[(colon + 1)..].Replace('+', ' '));
            if (!Clients.TryGetValue(id, out var expected) || expected != secret) { error = "invalid_client"; }
            return id;
        }

        if (form.TryGetValue("client_assertion", out var assertion))
        {
            var id = AssertionValidator?.Invoke(assertion);
            if (id is null || form.GetValueOrDefault("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") { error = "invalid_client"; }
            return id;
        }

        if (form.TryGetValue("client_secret", out var postSecret))
        {
            var id = form.GetValueOrDefault("client_id") ?? string.Empty;
            if (!Clients.TryGetValue(id, out var expected) || expected != postSecret) { error = "invalid_client"; }
            return id;
        }

        var publicId = form.GetValueOrDefault("client_id");
        if (publicId is null || Clients.ContainsKey(publicId)) { error = "invalid_client"; }
        return publicId;
    }

    private HttpResponseMessage Issue(string clientId, string? scope, string? resource, bool refresh)
    {
        var n = Interlocked.Increment(ref _tokenCounter);
        var access = "at-" + n;
        _accessTokens[access] = new IssuedToken(scope, resource, Time.GetUtcNow().AddSeconds(ExpiresInSeconds), false);
        var json = new JsonObject { ["access_token"] = access, ["token_type"] = TokenType, ["expires_in"] = ExpiresInSeconds };
        if (scope is not null) { json["scope"] = scope; }
        if (refresh)
        {
            var rt = "rt-" + Interlocked.Increment(ref _refreshCounter);
            _refreshTokens[rt] = new RefreshGrant(clientId, scope, false);
            json["refresh_token"] = rt;
        }

        return Json(json);
    }

    private static HttpResponseMessage Error(string error, HttpStatusCode status = HttpStatusCode.BadRequest) =>
        Json(new JsonObject { ["error"] = error, ["error_description"] = "rejected by the fake" }, status);

    private static HttpResponseMessage Json(JsonNode json, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(json.ToJsonString(), Encoding.UTF8, "application/json") };

    public static Dictionary<string, string> ParseForm(string body)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in body.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var at = pair.IndexOf('=');
            var name = Decode(at < 0 ? pair : pair[..at]);
            form.TryAdd(name, at < 0 ? string.Empty : Decode(pair[(at + 1)..]));
        }

        return form;

        static string Decode(string s) => Uri.UnescapeDataString(s.Replace('+', ' '));
    }

    private static string Base64UrlEncode(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed record IssuedToken(string? Scope, string? Resource, DateTimeOffset ExpiresAt, bool Revoked);

    private sealed record RefreshGrant(string ClientId, string? Scope, bool Used);

    private sealed record PendingCode(string ClientId, string Challenge, string? RedirectUri, string? Scope, string? Resource);
}

/// <summary>One request the fake received.</summary>
public sealed record RecordedRequest(HttpMethod Method, Uri Uri, string Path, AuthenticationHeaderValue? Authorization, string Body, IReadOnlyDictionary<string, string> Form);
