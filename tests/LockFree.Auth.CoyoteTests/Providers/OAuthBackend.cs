using System.Net;
using System.Text;
using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Providers;

/// <summary>
/// A fake MCP resource + authorization server behind one <see cref="HttpMessageHandler"/>, in this rewritten assembly.
/// Metadata and resource responses are immediate; every token-endpoint request gets a pending response that a separate
/// controlled "server" task completes, so Coyote interleaves token exchanges with callers, invalidations and
/// cancellations. Refresh tokens rotate: a refresh token that is not the latest one gets <c>invalid_grant</c> (a double
/// refresh is visible as such).
/// </summary>
internal sealed class OAuthBackend : HttpMessageHandler, IFakeEndpoints
{
    public const string Resource = "https://mcp.example/mcp";
    public const string Issuer = "https://as.example";

    private readonly object _gate = new();

    // Everything this back end started, owned by the scenario: DrainAsync awaits the responders and checks the responses.
    private readonly List<Task> _responders = [];
    private readonly List<Task> _tokenResponses = [];
    private readonly HashSet<string> _validAccessTokens = [];
    private readonly List<string> _issued = [];
    private string? _latestRefreshToken;
    private int _tokenRequests;
    private int _clientCredentialsGrants;
    private int _refreshGrants;
    private int _invalidGrants;
    private int _resourceRequests;
    private bool _rejectEveryToken;
    private readonly Dictionary<string, int> _resourceRequestsWith = new(StringComparer.Ordinal);

    public int TokenRequests { get { lock (_gate) { return _tokenRequests; } } }
    public int ClientCredentialsGrants { get { lock (_gate) { return _clientCredentialsGrants; } } }
    public int RefreshGrants { get { lock (_gate) { return _refreshGrants; } } }
    public int InvalidGrants { get { lock (_gate) { return _invalidGrants; } } }
    public int ResourceRequests { get { lock (_gate) { return _resourceRequests; } } }
    public IReadOnlyList<string> Issued { get { lock (_gate) { return [.. _issued]; } } }

    /// <summary>Resource requests that carried <paramref name="accessToken"/>.</summary>
    public int ResourceRequestsWith(string accessToken) { lock (_gate) { return _resourceRequestsWith.GetValueOrDefault(accessToken); } }

    /// <summary>
    /// The resource rejects every token from now on, including tokens it never accepted (R1: a resource that rejects
    /// every fresh token, as one that checks another audience would).
    /// </summary>
    public void RejectEveryToken()
    {
        lock (_gate)
        {
            _validAccessTokens.Clear();
            _rejectEveryToken = true;
        }
    }

    /// <summary>The resource rejects every access token issued so far (as after a key rotation).</summary>
    public void RevokeAllAccessTokens()
    {
        lock (_gate)
        {
            _validAccessTokens.Clear();
        }
    }

    public bool WasIssued(string accessToken)
    {
        lock (_gate)
        {
            return _issued.Contains(accessToken);
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
        var uri = request.RequestUri!.GetLeftPart(UriPartial.Path);
        switch (uri)
        {
            case "https://mcp.example/.well-known/oauth-protected-resource/mcp":
            case "https://mcp.example/.well-known/oauth-protected-resource":
                return Task.FromResult(Json($$"""{"resource":"{{Resource}}","authorization_servers":["{{Issuer}}"]}"""));
            case "https://as.example/.well-known/oauth-authorization-server":
                return Task.FromResult(Json($$"""{"issuer":"{{Issuer}}","token_endpoint":"{{Issuer}}/token","grant_types_supported":["client_credentials","refresh_token"],"token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"]}"""));
            case "https://as.example/token":
                return Track(TokenAsync(request, cancellationToken));
            case Resource:
                return Task.FromResult(ResourceResponse(request));
            default:
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("") });
        }
    }

    private HttpResponseMessage ResourceResponse(HttpRequestMessage request)
    {
        var bearer = request.Headers.Authorization is { Scheme: "Bearer", Parameter: { } p } ? p : null;
        bool ok;
        lock (_gate)
        {
            _resourceRequests++;
            if (bearer is not null)
            {
                _resourceRequestsWith[bearer] = _resourceRequestsWith.GetValueOrDefault(bearer) + 1;
            }

            ok = bearer is not null && _validAccessTokens.Contains(bearer);
        }

        if (ok)
        {
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("ok:" + bearer) };
        }

        var response = new HttpResponseMessage(HttpStatusCode.Unauthorized) { Content = new StringContent("") };
        response.Headers.TryAddWithoutValidation("WWW-Authenticate", "Bearer resource_metadata=\"https://mcp.example/.well-known/oauth-protected-resource/mcp\"" + (bearer is null ? "" : ", error=\"invalid_token\""));
        return response;
    }

    private async Task<HttpResponseMessage> TokenAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = InMemoryBackChannel.ReadText(request.Content);
        var form = body.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(static p => p.Split('=', 2))
            .ToDictionary(static p => Uri.UnescapeDataString(p[0]), static p => p.Length > 1 ? Uri.UnescapeDataString(p[1].Replace('+', ' ')) : "", StringComparer.Ordinal);
        var response = new TaskCompletionSource<HttpResponseMessage>();
        int number;
        lock (_gate)
        {
            number = ++_tokenRequests;
        }

        using var registration = cancellationToken.Register(() => response.TrySetCanceled(cancellationToken));
        var responder = Task.Run(() => response.TrySetResult(Answer(number, form))); // the server answers whenever Coyote says
        lock (_gate)
        {
            _responders.Add(responder);
        }

        return await response.Task;
    }

    private HttpResponseMessage Answer(int number, Dictionary<string, string> form)
    {
        var grant = form.GetValueOrDefault("grant_type");
        lock (_gate)
        {
            if (grant == "refresh_token")
            {
                if (form.GetValueOrDefault("refresh_token") != _latestRefreshToken)
                {
                    _invalidGrants++;
                    return Json("""{"error":"invalid_grant"}""", HttpStatusCode.BadRequest);
                }

                _refreshGrants++;
            }
            else if (grant == "client_credentials")
            {
                _clientCredentialsGrants++;
            }
            else
            {
                Specification.Assert(false, $"Unexpected grant_type '{grant}'.");
            }

            var access = $"at-{number}";
            var refresh = $"rt-{number}";
            _issued.Add(access);
            if (!_rejectEveryToken)
            {
                _validAccessTokens.Add(access);
            }

            _latestRefreshToken = refresh;
            return Json($$"""{"access_token":"{{access}}","token_type":"Bearer","expires_in":3600,"refresh_token":"{{refresh}}"}""");
        }
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
