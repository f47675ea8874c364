using System.Net;
using System.Text;
using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Providers;

/// <summary>
/// A fake enterprise IdP (RFC 8693 token exchange issuing ID-JAGs) and resource authorization server (RFC 7523
/// JWT-bearer grant) behind one <see cref="HttpMessageHandler"/>, in this rewritten assembly. Metadata is immediate;
/// every token request gets a pending response completed by its own controlled "server" task. A second authorization
/// server, <see cref="IssuerB"/>, serves the same JWT-bearer grant (for the issuer-pin race, T3/T5); every request an
/// authorization server receives is counted per issuer, and so are the grants that carried the client secret.
/// </summary>
internal sealed class CrossAppBackend : HttpMessageHandler, IFakeEndpoints
{
    public const string Issuer = "https://as.example";
    public const string IssuerB = "https://as-b.example";
    public const string IdpTokenEndpoint = "https://idp.example/token";

    private readonly object _gate = new();

    // Everything this back end started, owned by the scenario: DrainAsync awaits the responders and checks the responses.
    private readonly List<Task> _responders = [];
    private readonly List<Task> _tokenResponses = [];
    private readonly List<string> _jags = [];
    private readonly List<string> _accessTokens = [];
    private int _exchanges;
    private int _jwtGrants;
    private int _unknownAssertions;
    private readonly Dictionary<string, int> _requestsTo = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _secretGrantsTo = new(StringComparer.Ordinal);

    /// <summary>Token-exchange requests received by the IdP.</summary>
    public int Exchanges { get { lock (_gate) { return _exchanges; } } }

    /// <summary>JWT-bearer grants received by the authorization server.</summary>
    public int JwtGrants { get { lock (_gate) { return _jwtGrants; } } }

    /// <summary>JWT-bearer grants whose assertion the IdP never issued.</summary>
    public int UnknownAssertions { get { lock (_gate) { return _unknownAssertions; } } }

    /// <summary>Requests of any kind (metadata, token) that the authorization server <paramref name="issuer"/> received.</summary>
    public int RequestsTo(string issuer) { lock (_gate) { return _requestsTo.GetValueOrDefault(issuer); } }

    /// <summary>Token requests that reached <paramref name="issuer"/> carrying the client secret (Basic or in the form).</summary>
    public int SecretGrantsTo(string issuer) { lock (_gate) { return _secretGrantsTo.GetValueOrDefault(issuer); } }

    public bool WasIssued(string accessToken)
    {
        lock (_gate)
        {
            return _accessTokens.Contains(accessToken);
        }
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        HandleAsync(request, cancellationToken);

    /// <inheritdoc />
    public async Task DrainAsync()
    {
        Task[] responders;
        lock (_gate)
        {
            responders = [.. _responders];
        }

        await Task.WhenAll(responders);
        int pending;
        lock (_gate)
        {
            pending = _tokenResponses.Count(static t => !t.IsCompleted);
        }

        Specification.Assert(pending == 0, $"{pending} token response(s) still pending when the scenario ended: work escaped the iteration.");
    }

    public Task<HttpResponseMessage> HandleAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var authority = request.RequestUri!.GetLeftPart(UriPartial.Authority);
        if (authority is Issuer or IssuerB)
        {
            lock (_gate)
            {
                _requestsTo[authority] = _requestsTo.GetValueOrDefault(authority) + 1;
            }
        }

        switch (request.RequestUri!.GetLeftPart(UriPartial.Path))
        {
            case "https://as.example/.well-known/oauth-authorization-server":
            case "https://as-b.example/.well-known/oauth-authorization-server":
                return Task.FromResult(Json($$"""{"issuer":"{{authority}}","token_endpoint":"{{authority}}/token","grant_types_supported":["urn:ietf:params:oauth:grant-type:jwt-bearer"],"token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"]}"""));
            case "https://mcp.example/.well-known/oauth-protected-resource/mcp":
            case "https://mcp.example/.well-known/oauth-protected-resource":
                return Task.FromResult(Json($$"""{"resource":"https://mcp.example/mcp","authorization_servers":["{{Issuer}}"]}"""));
            case "https://mcp.example/mcp":
                return Task.FromResult(ResourceResponse(request));
            case IdpTokenEndpoint:
            case "https://as.example/token":
            case "https://as-b.example/token":
                return Track(TokenAsync(request, cancellationToken));
            default:
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("") });
        }
    }

    private HttpResponseMessage ResourceResponse(HttpRequestMessage request)
    {
        var bearer = request.Headers.Authorization is { Scheme: "Bearer", Parameter: { } p } ? p : null;
        if (bearer is not null && WasIssued(bearer))
        {
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("ok:" + bearer) };
        }

        var response = new HttpResponseMessage(HttpStatusCode.Unauthorized) { Content = new StringContent("") };
        response.Headers.TryAddWithoutValidation("WWW-Authenticate", "Bearer resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource/mcp\"");
        return response;
    }

    private async Task<HttpResponseMessage> TokenAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = InMemoryBackChannel.ReadText(request.Content);
        var form = body.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(static p => p.Split('=', 2))
            .ToDictionary(static p => Uri.UnescapeDataString(p[0]), static p => p.Length > 1 ? Uri.UnescapeDataString(p[1].Replace('+', ' ')) : "", StringComparer.Ordinal);
        var authority = request.RequestUri!.GetLeftPart(UriPartial.Authority);
        if (authority is Issuer or IssuerB && CarriesSecret(request, form))
        {
            lock (_gate)
            {
                _secretGrantsTo[authority] = _secretGrantsTo.GetValueOrDefault(authority) + 1;
            }
        }

        var response = new TaskCompletionSource<HttpResponseMessage>();
        using var registration = cancellationToken.Register(() => response.TrySetCanceled(cancellationToken));
        var responder = Task.Run(() => response.TrySetResult(Answer(form))); // the server answers whenever Coyote says
        lock (_gate)
        {
            _responders.Add(responder);
        }

        return await response.Task;
    }

    private HttpResponseMessage Answer(Dictionary<string, string> form)
    {
        lock (_gate)
        {
            switch (form.GetValueOrDefault("grant_type"))
            {
                case "urn:ietf:params:oauth:grant-type:token-exchange":
                    var jag = $"jag-{++_exchanges}";
                    _jags.Add(jag);
                    return Json($$"""{"access_token":"{{jag}}","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag","token_type":"N_A","expires_in":300}""");
                case "urn:ietf:params:oauth:grant-type:jwt-bearer":
                    var assertion = form.GetValueOrDefault("assertion") ?? "";
                    if (!_jags.Contains(assertion))
                    {
                        _unknownAssertions++;
                    }

                    var access = $"xat-{++_jwtGrants}";
                    _accessTokens.Add(access);
                    return Json($$"""{"access_token":"{{access}}","token_type":"Bearer","expires_in":3600}""");
                default:
                    Specification.Assert(false, $"Unexpected grant_type '{form.GetValueOrDefault("grant_type")}'.");
                    return Json("""{"error":"unsupported_grant_type"}""", HttpStatusCode.BadRequest);
            }
        }
    }

    /// <summary>Whether a token request carries the client's secret ("app"/"secret"): client_secret_basic or client_secret_post.</summary>
    private static bool CarriesSecret(HttpRequestMessage request, Dictionary<string, string> form)
    {
        if (form.GetValueOrDefault("client_secret") == "secret")
        {
            return true;
        }

        if (request.Headers.Authorization is { Scheme: "Basic", Parameter: { } basic })
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(basic));
            return decoded.EndsWith(":secret", StringComparison.Ordinal);
        }

        return false;
    }

    private Task<HttpResponseMessage> Track(Task<HttpResponseMessage> response)
    {
        lock (_gate)
        {
            _tokenResponses.Add(response);
        }

        return response;
    }

    private static HttpResponseMessage Json(string json, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
}
