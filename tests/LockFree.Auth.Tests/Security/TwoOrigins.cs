using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace LockFree.Auth.Tests.Security;

/// <summary>
/// Two real origins on loopback: <see cref="A"/>, the configured MCP server and its own authorization server, and
/// <see cref="B"/>, another host (an attacker, or a server the user never chose). Both can serve a complete
/// authorization server (RFC 8414 metadata, RFC 7591 registration, token endpoint with client credentials, rotating
/// refresh tokens and the authorization code with PKCE) and a protected resource with RFC 9728 metadata. Tests assert on
/// what each origin received.
/// </summary>
internal sealed class TwoOrigins : IAsyncDisposable
{
    public const string ClientId = "configured-client";
    public const string ClientSecret = "configured-secret-Zq81";

    private TwoOrigins(LoopbackOrigin a, LoopbackOrigin b)
    {
        A = a;
        B = b;
        AsA = new LoopbackAuthorizationServer(a, "A");
        AsB = new LoopbackAuthorizationServer(b, "B");
    }

    public LoopbackOrigin A { get; }

    public LoopbackOrigin B { get; }

    public LoopbackAuthorizationServer AsA { get; }

    public LoopbackAuthorizationServer AsB { get; }

    /// <summary>The MCP server URL the client is configured with (on A).</summary>
    public Uri McpUrl => A.Url("/mcp");

    private string _named = string.Empty;

    /// <summary>The issuer A's resource metadata names now (see <see cref="ServeBoth"/>); a test switches it to B's.</summary>
    public string NamedAuthorizationServer
    {
        get => Volatile.Read(ref _named);
        set => Volatile.Write(ref _named, value);
    }

    /// <summary>
    /// Serves both authorization servers, and on A the MCP resource whose metadata names
    /// <see cref="NamedAuthorizationServer"/> (A's issuer at first) and which accepts A's tokens.
    /// </summary>
    public TwoOrigins ServeBoth()
    {
        AsA.Serve();
        AsB.Serve();
        NamedAuthorizationServer = AsA.Issuer;
        ServeResource(A, () => NamedAuthorizationServer, AsA);
        return this;
    }

    /// <summary>Sends a GET to <paramref name="url"/> and fails unless the answer has <paramref name="status"/> (bounded).</summary>
    public static async Task ExpectAsync(HttpClient http, Uri url, System.Net.HttpStatusCode status = System.Net.HttpStatusCode.OK)
    {
        using var response = await http.GetAsync(url).WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(status, response.StatusCode);
    }

    public static async Task<TwoOrigins> StartAsync()
    {
        var a = await LoopbackOrigin.StartAsync("127.0.0.1");
        try
        {
            return new TwoOrigins(a, await LoopbackOrigin.StartAsync("127.0.0.2"));
        }
        catch
        {
            await a.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Serves on <paramref name="origin"/> a protected resource at <c>/mcp</c> whose RFC 9728 metadata (at the
    /// path-specific well-known URL) names <paramref name="authorizationServer"/>; it accepts tokens that
    /// <paramref name="issuedBy"/> issued, otherwise answers 401 with a Bearer challenge.
    /// </summary>
    public static void ServeResource(LoopbackOrigin origin, Func<string> authorizationServer, LoopbackAuthorizationServer issuedBy, Func<string>? resource = null)
    {
        var prmPath = "/.well-known/oauth-protected-resource/mcp";
        origin.Map(prmPath, (context, _) => LoopbackOrigin.WriteJsonAsync(context, new Dictionary<string, object>
        {
            ["resource"] = resource?.Invoke() ?? origin.Origin + "/mcp",
            ["authorization_servers"] = new[] { authorizationServer() },
        }));
        origin.Map("/mcp", (context, request) =>
        {
            var auth = request.Authorization;
            if (auth is not null && auth.StartsWith("Bearer ", StringComparison.Ordinal) && issuedBy.Accepts(auth[7..]))
            {
                return LoopbackOrigin.WriteJsonAsync(context, new { ok = true });
            }

            return LoopbackOrigin.ChallengeAsync(context, $"Bearer resource_metadata=\"{origin.Origin}{prmPath}\"");
        });
    }

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
    }
}

/// <summary>A small but complete authorization server on one <see cref="LoopbackOrigin"/> (issuer = the origin).</summary>
internal sealed class LoopbackAuthorizationServer
{
    private readonly LoopbackOrigin _origin;
    private readonly string _name;
    private readonly ConcurrentDictionary<string, bool> _accessTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _refreshTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _codes = new(StringComparer.Ordinal);
    private int _counter;

    public LoopbackAuthorizationServer(LoopbackOrigin origin, string name)
    {
        _origin = origin;
        _name = name;
    }

    public string Issuer => _origin.Origin;

    /// <summary>The <c>expires_in</c> of issued tokens.</summary>
    public long ExpiresIn { get; set; } = 3600;

    /// <summary>The <c>code_challenge_methods_supported</c> advertised; <see langword="null"/> omits the member.</summary>
    public string[]? CodeChallengeMethods { get; set; } = ["S256"];

    /// <summary>Whether the protected resource accepts this server's tokens (false: every token is rejected).</summary>
    public bool ResourceAcceptsTokens { get; set; } = true;

    public int TokenRequests => _origin.RequestsTo("/token").Count;

    public int Registrations => _origin.RequestsTo("/register").Count;

    public bool Accepts(string accessToken) => ResourceAcceptsTokens && _accessTokens.ContainsKey(accessToken);

    /// <summary>Issues a refresh token that the token endpoint will accept once (for seeding a cache).</summary>
    public string IssueRefreshToken()
    {
        var token = $"{_name}-rt-seed-{Interlocked.Increment(ref _counter)}";
        _refreshTokens[token] = true;
        return token;
    }

    /// <summary>Maps the metadata, registration, authorization and token endpoints.</summary>
    public LoopbackAuthorizationServer Serve(string metadataPath = "/.well-known/oauth-authorization-server")
    {
        _origin.Map(metadataPath, (context, _) =>
        {
            var metadata = new Dictionary<string, object>
            {
                ["issuer"] = Issuer,
                ["authorization_endpoint"] = Issuer + "/authorize",
                ["token_endpoint"] = Issuer + "/token",
                ["registration_endpoint"] = Issuer + "/register",
                ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_basic", "client_secret_post", "none" },
                ["grant_types_supported"] = new[] { "authorization_code", "refresh_token", "client_credentials" },
                ["response_types_supported"] = new[] { "code" },
            };
            if (CodeChallengeMethods is { } methods)
            {
                metadata["code_challenge_methods_supported"] = methods;
            }

            return LoopbackOrigin.WriteJsonAsync(context, metadata);
        });
        _origin.Map("/register", (context, _) => LoopbackOrigin.WriteJsonAsync(context, new Dictionary<string, object>
        {
            ["client_id"] = $"{_name}-registered-{Interlocked.Increment(ref _counter)}",
            ["client_secret"] = $"{_name}-registered-secret",
            ["token_endpoint_auth_method"] = "client_secret_post",
        }, 201));
        _origin.Map("/authorize", (context, request) =>
        {
            var query = context.Request.Query;
            var code = $"{_name}-code-{Interlocked.Increment(ref _counter)}";
            _codes[code] = query["code_challenge"].ToString();
            var redirect = $"{query["redirect_uri"]}?code={code}&state={Uri.EscapeDataString(query["state"].ToString())}&iss={Uri.EscapeDataString(Issuer)}";
            return LoopbackOrigin.RedirectAsync(context, new Uri(redirect), 302);
        });
        _origin.Map("/token", (context, request) => TokenAsync(context, request));
        return this;
    }

    /// <summary>Visits the authorization endpoint as a browser would and returns the redirect's parameters.</summary>
    public static async Task<AuthorizationResult> AuthorizeAsync(Uri authorizationUri)
    {
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        using var response = await http.GetAsync(authorizationUri).WaitAsync(TimeSpan.FromSeconds(10));
        return AuthorizationResult.FromRedirectUri(response.Headers.Location!);
    }

    private Task TokenAsync(HttpContext context, RecordedRequest request)
    {
        var form = request.Body.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(static p => p.Split('=', 2))
            .ToDictionary(static p => Uri.UnescapeDataString(p[0].Replace('+', ' ')), static p => p.Length > 1 ? Uri.UnescapeDataString(p[1].Replace('+', ' ')) : string.Empty);
        string? refresh = null;
        switch (form.GetValueOrDefault("grant_type"))
        {
            case "client_credentials":
                break;
            case "refresh_token":
                if (!_refreshTokens.TryRemove(form.GetValueOrDefault("refresh_token") ?? string.Empty, out _))
                {
                    return LoopbackOrigin.WriteJsonAsync(context, new { error = "invalid_grant" }, 400);
                }

                break;
            case "authorization_code":
                if (!_codes.TryRemove(form.GetValueOrDefault("code") ?? string.Empty, out var challenge)
                    || challenge != Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(form.GetValueOrDefault("code_verifier") ?? string.Empty))))
                {
                    return LoopbackOrigin.WriteJsonAsync(context, new { error = "invalid_grant" }, 400);
                }

                break;
            case OAuthConstants.GrantTypeTokenExchange:
                // An IdP: the ID token becomes an ID-JAG for the requested audience.
                var jag = $"{_name}-jag-{Interlocked.Increment(ref _counter)}";
                return LoopbackOrigin.WriteJsonAsync(context, new Dictionary<string, object>
                {
                    ["access_token"] = jag,
                    ["issued_token_type"] = OAuthConstants.TokenTypeIdJag,
                    ["token_type"] = "N_A",
                    ["expires_in"] = 300,
                });
            case OAuthConstants.GrantTypeJwtBearer:
                break;
            default:
                return LoopbackOrigin.WriteJsonAsync(context, new { error = "unsupported_grant_type" }, 400);
        }

        var n = Interlocked.Increment(ref _counter);
        var access = $"{_name}-at-{n}";
        _accessTokens[access] = true;
        if (form.GetValueOrDefault("grant_type") is "refresh_token" or "authorization_code")
        {
            refresh = $"{_name}-rt-{n}";
            _refreshTokens[refresh] = true;
        }

        var body = new Dictionary<string, object> { ["access_token"] = access, ["token_type"] = "Bearer", ["expires_in"] = ExpiresIn };
        if (refresh is not null)
        {
            body["refresh_token"] = refresh;
        }

        return LoopbackOrigin.WriteJsonAsync(context, body);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
