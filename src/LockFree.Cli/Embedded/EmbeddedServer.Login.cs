using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace LockFree.Cli.Embedded;

/// <summary>What the login side of the authorization server counted.</summary>
/// <param name="LoginPages">Login pages served: one per browser navigation to the authorization endpoint.</param>
/// <param name="Consents">Forms submitted with "Allow" (each issued one code).</param>
/// <param name="Denials">Forms submitted with "Deny" (each redirected with <c>access_denied</c>).</param>
/// <param name="Registrations">RFC 7591 registrations.</param>
internal sealed record LoginCounters(long LoginPages, long Consents, long Denials, long Registrations);

/// <summary>
/// The interactive side of the embedded authorization server: a login and consent page on the authorization endpoint
/// (user name, the requested scopes as checkboxes, Allow and Deny), authorization codes bound to PKCE S256 and the
/// redirect URI, rotating refresh tokens when <c>offline_access</c> is granted, and RFC 7591 registration of public
/// clients. Loopback IP redirect URIs match on any port (RFC 8252 §7.3).
/// </summary>
/// <remarks>Concurrency: every table is a concurrent dictionary, codes and refresh tokens are taken with TryRemove (one use).</remarks>
internal sealed partial class EmbeddedServer
{
    internal const string AuthorizePath = "/authorize";
    internal const string RegisterPath = "/register";
    private static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan CodeLifetime = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, RegisteredClient> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PendingAuthorization> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IssuedCode> _codes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RefreshGrant> _refreshTokens = new(StringComparer.Ordinal);
    private long _loginPages;
    private long _consents;
    private long _denials;
    private long _registrations;

    /// <summary>The authorization endpoint (the login page).</summary>
    public Uri AuthorizationEndpoint => new(BaseUri, AuthorizePath);

    private LoginCounters LoginCounters => new(
        Interlocked.Read(ref _loginPages), Interlocked.Read(ref _consents), Interlocked.Read(ref _denials), Interlocked.Read(ref _registrations));

    private void MapLogin(WebApplication app)
    {
        _clients[Settings.LoginClientId] = new RegisteredClient(Settings.LoginClientId, "lockfree CLI", ["http://127.0.0.1/callback", "http://[::1]/callback"]);
        app.MapGet(AuthorizePath, LoginPageAsync);
        app.MapPost(AuthorizePath, ConsentAsync);
        app.MapPost(RegisterPath, RegisterAsync);
    }

    // ---------------------------------------------------------------- authorization endpoint

    private Task LoginPageAsync(HttpContext context)
    {
        var q = context.Request.Query;
        var clientId = q["client_id"].ToString();
        var redirectUri = q["redirect_uri"].ToString();
        if (!_clients.TryGetValue(clientId, out var client))
        {
            return Html(context, StatusCodes.Status400BadRequest, "Unknown client", "<p>The client_id of this request is not registered here.</p>");
        }

        if (!client.Allows(redirectUri))
        {
            // RFC 6749 §4.1.2.1: never redirect to a redirect URI that was not registered.
            return Html(context, StatusCodes.Status400BadRequest, "Unregistered redirect URI", "<p>The redirect_uri of this request is not registered for this client.</p>");
        }

        var state = q["state"].Count > 0 ? q["state"].ToString() : null;
        if (q["response_type"] != "code" || q["code_challenge"].ToString().Length < 43 || q["code_challenge_method"] != "S256")
        {
            return Redirect(context, redirectUri, state, ("error", "invalid_request"), ("error_description", "response_type=code with a PKCE S256 code_challenge is required"));
        }

        var requested = q["scope"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToArray();
        var pending = new PendingAuthorization(
            EmbeddedServerSettings.RandomToken("rq_"), client, redirectUri, state, q["code_challenge"].ToString(), requested,
            q["resource"].Count > 0 ? q["resource"].ToString() : null, _time.GetUtcNow());
        _pending[pending.RequestId] = pending;
        Interlocked.Increment(ref _loginPages);
        return Html(context, StatusCodes.Status200OK, "Sign in to the lockfree embedded server", LoginForm(pending, error: null));
    }

    private async Task ConsentAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            await Html(context, StatusCodes.Status400BadRequest, "Bad request", "<p>A form was expected.</p>");
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (!_pending.TryRemove(form["request_id"].ToString(), out var pending) || _time.GetUtcNow() - pending.CreatedAt > PendingLifetime)
        {
            await Html(context, StatusCodes.Status400BadRequest, "Sign-in expired", "<p>This sign-in request expired or was already answered. Start the sign-in again from the application.</p>");
            return;
        }

        if (form["action"] == "deny")
        {
            Interlocked.Increment(ref _denials);
            await Redirect(context, pending.RedirectUri, pending.State, ("error", "access_denied"), ("error_description", "The user denied the request"));
            return;
        }

        var user = form["username"].ToString().Trim();
        if (user.Length is 0 or > 64)
        {
            _pending[pending.RequestId] = pending; // show the form again for the same request
            await Html(context, StatusCodes.Status400BadRequest, "Sign in to the lockfree embedded server", LoginForm(pending, "Enter a user name (at most 64 characters)."));
            return;
        }

        var granted = form["scope"].Where(s => s is not null && pending.Scopes.Contains(s, StringComparer.Ordinal)).Select(s => s!).Distinct(StringComparer.Ordinal).ToArray();
        var code = EmbeddedServerSettings.RandomToken("ac_");
        _codes[code] = new IssuedCode(pending.Client.ClientId, pending.RedirectUri, pending.CodeChallenge, string.Join(' ', granted), user, _time.GetUtcNow() + CodeLifetime);
        Interlocked.Increment(ref _consents);
        await Redirect(context, pending.RedirectUri, pending.State, ("code", code));
    }

    private Task Redirect(HttpContext context, string redirectUri, string? state, params (string Name, string Value)[] parameters)
    {
        var target = new StringBuilder(redirectUri);
        var separator = redirectUri.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        foreach (var (name, value) in parameters.Append(("iss", Issuer)).Concat(state is null ? [] : [("state", state)]))
        {
            target.Append(separator).Append(name).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }

        context.Response.StatusCode = StatusCodes.Status302Found;
        context.Response.Headers.Location = target.ToString();
        context.Response.Headers.CacheControl = "no-store";
        return Task.CompletedTask;
    }

    // ---------------------------------------------------------------- token endpoint: public clients

    private bool IsPublicClientRequest(HttpContext context, IFormCollection form) =>
        !context.Request.Headers.Authorization.ToString().StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)
        && form["client_secret"].Count == 0
        && _clients.ContainsKey(form["client_id"].ToString());

    private async Task PublicClientTokenAsync(HttpContext context, IFormCollection form)
    {
        var clientId = form["client_id"].ToString();
        switch (form["grant_type"].ToString())
        {
            case "authorization_code":
                if (!_codes.TryRemove(form["code"].ToString(), out var code)
                    || code.ClientId != clientId
                    || code.RedirectUri != form["redirect_uri"].ToString()
                    || _time.GetUtcNow() > code.ExpiresAt
                    || !PkceMatches(form["code_verifier"], code.CodeChallenge))
                {
                    await OAuthError(context, "invalid_grant", "the code is unknown, used, expired, or bound to another client, redirect URI or PKCE verifier");
                    return;
                }

                Interlocked.Increment(ref _authorizationCodeGrants);
                await IssueAccessToken(context, code.Scope, NewRefreshToken(clientId, code.Scope, code.User));
                return;

            case "refresh_token":
                if (!_refreshTokens.TryRemove(form["refresh_token"].ToString(), out var refresh) || refresh.ClientId != clientId)
                {
                    // Unknown, or already used: refresh tokens rotate, so a second use is a client bug (or theft).
                    await OAuthError(context, "invalid_grant", "the refresh token is unknown or was already used");
                    return;
                }

                Interlocked.Increment(ref _refreshGrants);
                await IssueAccessToken(context, refresh.Scope, NewRefreshToken(clientId, refresh.Scope, refresh.User));
                return;

            default:
                await OAuthError(context, "unsupported_grant_type", "public clients use authorization_code or refresh_token");
                return;
        }
    }

    private string? NewRefreshToken(string clientId, string scope, string user)
    {
        if (!scope.Split(' ').Contains("offline_access", StringComparer.Ordinal))
        {
            return null;
        }

        var token = EmbeddedServerSettings.RandomToken("rt_");
        _refreshTokens[token] = new RefreshGrant(clientId, scope, user);
        return token;
    }

    private static bool PkceMatches(StringValues verifier, string challenge)
    {
        var text = verifier.ToString();
        if (text.Length is < 43 or > 128)
        {
            return false;
        }

        var computed = EmbeddedServerSettings.Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(text)));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(computed), Encoding.ASCII.GetBytes(challenge));
    }

    // ---------------------------------------------------------------- RFC 7591 registration (public clients)

    private async Task RegisterAsync(HttpContext context)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            await RegistrationError(context, "invalid_client_metadata", "the body is not JSON");
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("redirect_uris", out var uris) || uris.ValueKind != JsonValueKind.Array || uris.GetArrayLength() == 0
                || uris.EnumerateArray().Any(u => u.ValueKind != JsonValueKind.String || !RegisteredClient.IsAcceptable(u.GetString()!)))
            {
                await RegistrationError(context, "invalid_redirect_uri", "redirect_uris must be https URIs or http URIs on 127.0.0.1 or [::1]");
                return;
            }

            var method = root.TryGetProperty("token_endpoint_auth_method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : "none";
            if (method != "none")
            {
                await RegistrationError(context, "invalid_client_metadata", "only public clients (token_endpoint_auth_method none) may register here");
                return;
            }

            var name = root.TryGetProperty("client_name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "unnamed client";
            var client = new RegisteredClient(EmbeddedServerSettings.RandomToken("dc_"), name.Length > 80 ? name[..80] : name, [.. uris.EnumerateArray().Select(u => u.GetString()!)]);
            _clients[client.ClientId] = client;
            Interlocked.Increment(ref _registrations);
            context.Response.StatusCode = StatusCodes.Status201Created;
            await Json(context, new Dictionary<string, object>
            {
                ["client_id"] = client.ClientId,
                ["client_id_issued_at"] = _time.GetUtcNow().ToUnixTimeSeconds(),
                ["client_name"] = client.Name,
                ["redirect_uris"] = client.RedirectUris,
                ["grant_types"] = new[] { "authorization_code", "refresh_token" },
                ["response_types"] = new[] { "code" },
                ["token_endpoint_auth_method"] = "none",
            }, noStore: true);
        }
    }

    private static Task RegistrationError(HttpContext context, string error, string description)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return Json(context, new Dictionary<string, object> { ["error"] = error, ["error_description"] = description }, noStore: true);
    }

    // ---------------------------------------------------------------- pages

    private string LoginForm(PendingAuthorization pending, string? error)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder();
        html.Append("<p class=\"lead\"><strong id=\"client-name\">").Append(E(pending.Client.Name)).Append("</strong> asks to access the protected resource")
            .Append(pending.Resource is null ? "" : " <code>" + E(pending.Resource) + "</code>").Append(" on your behalf.</p>");
        if (error is not null)
        {
            html.Append("<p class=\"error\" id=\"form-error\">").Append(E(error)).Append("</p>");
        }

        html.Append("<form id=\"consent\" method=\"post\" action=\"").Append(AuthorizePath).Append("\">")
            .Append("<input type=\"hidden\" name=\"request_id\" value=\"").Append(E(pending.RequestId)).Append("\">")
            .Append("<label for=\"username\">User name</label>")
            .Append("<input id=\"username\" name=\"username\" autocomplete=\"username\" maxlength=\"64\" required autofocus>")
            .Append("<fieldset><legend>Allow these scopes</legend>");
        if (pending.Scopes.Length == 0)
        {
            html.Append("<p class=\"muted\">No scope was requested.</p>");
        }

        foreach (var scope in pending.Scopes)
        {
            html.Append("<label class=\"scope\"><input type=\"checkbox\" name=\"scope\" id=\"scope-").Append(E(scope)).Append("\" value=\"").Append(E(scope)).Append("\" checked> <code>")
                .Append(E(scope)).Append("</code> <span class=\"muted\">").Append(E(ScopeDescription(scope))).Append("</span></label>");
        }

        var back = Uri.TryCreate(pending.RedirectUri, UriKind.Absolute, out var r) ? r.GetLeftPart(UriPartial.Authority) : pending.RedirectUri;
        html.Append("</fieldset><div class=\"actions\">")
            .Append("<button type=\"submit\" name=\"action\" value=\"allow\" id=\"allow\">Allow</button>")
            .Append("<button type=\"submit\" name=\"action\" value=\"deny\" id=\"deny\" formnovalidate>Deny</button>")
            .Append("</div></form><p class=\"muted\">Either way, your browser then returns to <code>").Append(E(back)).Append("</code>.</p>");
        return html.ToString();
    }

    private static string ScopeDescription(string scope) => scope switch
    {
        "storm" => "call the storm resource",
        "offline_access" => "stay signed in (a refresh token)",
        _ => "",
    };

    private static Task Html(HttpContext context, int status, string title, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.XFrameOptions = "DENY";
        context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: http://127.0.0.1:* http://[::1]:*; frame-ancestors 'none'";
        context.Response.Headers["Referrer-Policy"] = "no-referrer";
        var page = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>")
            .Append(WebUtility.HtmlEncode(title)).Append("</title><style>")
            .Append("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f6f8fa;color:#1f2328;margin:0}")
            .Append("main{max-width:30rem;margin:4rem auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1.5rem 2rem}")
            .Append("h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.6rem 0 .3rem}input#username{width:100%;box-sizing:border-box;padding:.45rem;font-size:1rem;border:1px solid #d0d7de;border-radius:6px}")
            .Append("fieldset{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}label.scope{font-weight:normal}")
            .Append(".actions{display:flex;gap:.75rem}button{font-size:1rem;padding:.45rem 1.2rem;border-radius:6px;border:1px solid #d0d7de;cursor:pointer}")
            .Append("#allow{background:#1f883d;color:#fff;border-color:#1a7f37}#deny{background:#fff}.muted{color:#656d76;font-size:.9rem}.error{color:#cf222e}")
            .Append("code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}</style></head><body><main><h1>")
            .Append(WebUtility.HtmlEncode(title)).Append("</h1>").Append(body).Append("</main></body></html>");
        return context.Response.WriteAsync(page.ToString());
    }

    private sealed record RegisteredClient(string ClientId, string Name, string[] RedirectUris)
    {
        /// <summary>An exact match, or the same loopback IP redirect URI on another port (RFC 8252 §7.3).</summary>
        public bool Allows(string redirectUri)
        {
            if (!Uri.TryCreate(redirectUri, UriKind.Absolute, out var asked) || asked.Fragment.Length > 0)
            {
                return false;
            }

            foreach (var registered in RedirectUris)
            {
                if (string.Equals(registered, redirectUri, StringComparison.Ordinal))
                {
                    return true;
                }

                if (Uri.TryCreate(registered, UriKind.Absolute, out var r) && IsLoopbackIp(r) && IsLoopbackIp(asked)
                    && r.Scheme == asked.Scheme && r.Host == asked.Host && r.PathAndQuery == asked.PathAndQuery)
                {
                    return true;
                }
            }

            return false;
        }

        public static bool IsAcceptable(string uri) =>
            Uri.TryCreate(uri, UriKind.Absolute, out var u) && u.Fragment.Length == 0 && (u.Scheme == Uri.UriSchemeHttps || IsLoopbackIp(u));

        private static bool IsLoopbackIp(Uri uri) =>
            uri.Scheme == Uri.UriSchemeHttp && uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6
            && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }

    private sealed record PendingAuthorization(
        string RequestId, RegisteredClient Client, string RedirectUri, string? State, string CodeChallenge, string[] Scopes, string? Resource, DateTimeOffset CreatedAt);

    private sealed record IssuedCode(string ClientId, string RedirectUri, string CodeChallenge, string Scope, string User, DateTimeOffset ExpiresAt);

    private sealed record RefreshGrant(string ClientId, string Scope, string User);
}
