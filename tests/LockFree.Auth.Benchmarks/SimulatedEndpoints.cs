using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// In-memory authorization server (metadata + token endpoint), enterprise IdP token endpoint and protected MCP
/// resource, served as an <see cref="HttpMessageHandler"/> with a fixed latency per hop. Both sides of every
/// comparison talk to an instance of this class through a plain <see cref="HttpClient"/>, so they see exactly the
/// same network behaviour.
/// </summary>
/// <remarks>
/// Concurrency: thread-safe. Counters use Interlocked; the issued-token set is a concurrent dictionary.
/// </remarks>
internal sealed class SimulatedEndpoints : HttpMessageHandler
{
    public const string Issuer = "https://as.example";
    public const string AsTokenEndpoint = "https://as.example/token";
    public const string IdpTokenEndpoint = "https://idp.example/token";
    public const string ResourceUrl = "https://mcp.example/mcp";
    public const string ResourceMetadataUrl = "https://mcp.example/.well-known/oauth-protected-resource/mcp";

    private static readonly string s_asMetadata = $$"""
        {"issuer":"{{Issuer}}","authorization_endpoint":"{{Issuer}}/authorize","token_endpoint":"{{AsTokenEndpoint}}",
         "registration_endpoint":"{{Issuer}}/register",
         "token_endpoint_auth_methods_supported":["client_secret_post","client_secret_basic","none"],
         "grant_types_supported":["authorization_code","refresh_token","client_credentials","urn:ietf:params:oauth:grant-type:jwt-bearer"],
         "response_types_supported":["code"],"code_challenge_methods_supported":["S256"]}
        """;

    private static readonly string s_resourceMetadata = $$"""
        {"resource":"{{ResourceUrl}}","authorization_servers":["{{Issuer}}"],"bearer_methods_supported":["header"]}
        """;

    private readonly ConcurrentDictionary<string, byte> _revoked = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _accepted = new(StringComparer.Ordinal);
    private long _tokenSerial;
    private long _refreshSerial;

    private int _metadataFetches;
    private int _idpExchanges;
    private int _asExchanges;
    private int _refreshGrants;
    private int _clientCredentialsGrants;
    private int _codeGrants;
    private int _resourceRequests;
    private int _resource401s;

    public SimulatedEndpoints(TimeSpan hopLatency) => HopLatency = hopLatency;

    /// <summary>Latency added to every request (one "hop").</summary>
    public TimeSpan HopLatency { get; set; }

    /// <summary>The <c>expires_in</c> the AS puts on access tokens it issues from now on.</summary>
    public int TokenLifetimeSeconds { get; set; } = 3600;

    /// <summary>Called synchronously when a request arrives, before its latency: "metadata", "idp", "as", "resource".</summary>
    public Action<string>? OnRequestArrived { get; set; }

    public int MetadataFetches => Volatile.Read(ref _metadataFetches);

    /// <summary>RFC 8693 exchanges received by the IdP: one per (started) cross-app token exchange.</summary>
    public int IdpExchanges => Volatile.Read(ref _idpExchanges);

    /// <summary>RFC 7523 JWT-bearer grants received by the AS: one per completed cross-app token exchange.</summary>
    public int AsExchanges => Volatile.Read(ref _asExchanges);

    public int RefreshGrants => Volatile.Read(ref _refreshGrants);

    public int ClientCredentialsGrants => Volatile.Read(ref _clientCredentialsGrants);

    public int CodeGrants => Volatile.Read(ref _codeGrants);

    public int ResourceRequests => Volatile.Read(ref _resourceRequests);

    public int Resource401s => Volatile.Read(ref _resource401s);

    /// <summary>All token grants the AS answered (any grant type).</summary>
    public int TokenGrants => AsExchanges + RefreshGrants + ClientCredentialsGrants + CodeGrants;

    /// <summary>Distinct bearer tokens the resource accepted since the last <see cref="ResetCounters"/>.</summary>
    public int AcceptedTokens => _accepted.Count;

    public void ResetCounters()
    {
        _accepted.Clear();
        Volatile.Write(ref _metadataFetches, 0);
        Volatile.Write(ref _idpExchanges, 0);
        Volatile.Write(ref _asExchanges, 0);
        Volatile.Write(ref _refreshGrants, 0);
        Volatile.Write(ref _clientCredentialsGrants, 0);
        Volatile.Write(ref _codeGrants, 0);
        Volatile.Write(ref _resourceRequests, 0);
        Volatile.Write(ref _resource401s, 0);
    }

    /// <summary>The resource server stops accepting <paramref name="accessToken"/> (it answers 401 for it).</summary>
    public void Revoke(string accessToken) => _revoked[accessToken] = 0;

    public bool IsRevoked(string accessToken) => _revoked.ContainsKey(accessToken);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri ?? throw new InvalidOperationException("No request URI.");
        var url = uri.GetLeftPart(UriPartial.Path);
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var form = body is null ? null : ParseForm(body);

        string kind = url switch
        {
            _ when url.StartsWith(Issuer + "/.well-known/", StringComparison.Ordinal) => "metadata",
            ResourceMetadataUrl or "https://mcp.example/.well-known/oauth-protected-resource" => "metadata",
            IdpTokenEndpoint => "idp",
            AsTokenEndpoint => "as",
            _ when url.StartsWith("https://mcp.example/", StringComparison.Ordinal) => "resource",
            _ => "unknown",
        };

        switch (kind)
        {
            case "metadata": Interlocked.Increment(ref _metadataFetches); break;
            case "idp": Interlocked.Increment(ref _idpExchanges); break;
            case "resource": Interlocked.Increment(ref _resourceRequests); break;
        }

        OnRequestArrived?.Invoke(kind);
        if (HopLatency > TimeSpan.Zero)
        {
            await Task.Delay(HopLatency, cancellationToken).ConfigureAwait(false);
        }

        return kind switch
        {
            "metadata" when url.Contains("oauth-protected-resource", StringComparison.Ordinal) => Json(s_resourceMetadata),
            "metadata" => Json(s_asMetadata),
            "idp" => Json("""{"access_token":"id-jag.simulated","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag","token_type":"N_A","expires_in":300}"""),
            "as" => IssueToken(form),
            "resource" => Resource(request, body),
            _ => new HttpResponseMessage(HttpStatusCode.NotFound) { RequestMessage = request },
        };
    }

    private HttpResponseMessage IssueToken(Dictionary<string, string>? form)
    {
        var grant = form?.GetValueOrDefault("grant_type") ?? string.Empty;
        bool withRefresh = false;
        switch (grant)
        {
            case "urn:ietf:params:oauth:grant-type:jwt-bearer": Interlocked.Increment(ref _asExchanges); break;
            case "refresh_token": Interlocked.Increment(ref _refreshGrants); withRefresh = true; break;
            case "client_credentials": Interlocked.Increment(ref _clientCredentialsGrants); break;
            case "authorization_code": Interlocked.Increment(ref _codeGrants); withRefresh = true; break;
            default:
                return Json("""{"error":"unsupported_grant_type"}""", HttpStatusCode.BadRequest);
        }

        var serial = Interlocked.Increment(ref _tokenSerial);
        var refresh = withRefresh
            ? string.Create(CultureInfo.InvariantCulture, $",\"refresh_token\":\"rt-{Interlocked.Increment(ref _refreshSerial)}\"")
            : string.Empty;
        return Json(string.Create(CultureInfo.InvariantCulture,
            $"{{\"access_token\":\"at-{serial}\",\"token_type\":\"Bearer\",\"expires_in\":{TokenLifetimeSeconds}{refresh}}}"));
    }

    /// <summary>
    /// The protected resource: 401 with a challenge for a missing or revoked bearer token; otherwise a minimal
    /// Streamable HTTP MCP server (JSON responses: <c>initialize</c>, <c>ping</c>, notifications; other methods → -32601).
    /// </summary>
    private HttpResponseMessage Resource(HttpRequestMessage request, string? body)
    {
        var auth = request.Headers.Authorization;
        if (auth is null || !string.Equals(auth.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase)
            || string.IsNullOrEmpty(auth.Parameter) || IsRevoked(auth.Parameter))
        {
            Interlocked.Increment(ref _resource401s);
            var unauthorized = new HttpResponseMessage(HttpStatusCode.Unauthorized) { RequestMessage = request, Content = new StringContent(string.Empty) };
            unauthorized.Headers.TryAddWithoutValidation("WWW-Authenticate", $"Bearer resource_metadata=\"{ResourceMetadataUrl}\"");
            return unauthorized;
        }

        _accepted[auth.Parameter] = 0;
        if (request.Method == HttpMethod.Get)
        {
            return request.Headers.Accept.Any(a => a.MediaType == "text/event-stream")
                ? new HttpResponseMessage(HttpStatusCode.MethodNotAllowed)
                : Json("""{"ok":true}""");
        }

        if (request.Method == HttpMethod.Delete || string.IsNullOrEmpty(body))
        {
            return new HttpResponseMessage(HttpStatusCode.OK);
        }

        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        if (!root.TryGetProperty("id", out var id))
        {
            return new HttpResponseMessage(HttpStatusCode.Accepted);
        }

        var method = root.TryGetProperty("method", out var m) ? m.GetString() : null;
        var head = "{\"jsonrpc\":\"2.0\",\"id\":" + id.GetRawText();
        return method switch
        {
            "initialize" => Json(head + ",\"result\":{\"protocolVersion\":\"" + root.GetProperty("params").GetProperty("protocolVersion").GetString()
                + "\",\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"simulated\",\"version\":\"1.0.0\"}}}"),
            "ping" or "tools/call" => Json(head + ",\"result\":{}}"),
            _ => Json(head + ",\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}"),
        };
    }

    private static HttpResponseMessage Json(string body, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private static Dictionary<string, string> ParseForm(string body)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in body.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            result[key] = value;
        }

        return result;
    }
}
