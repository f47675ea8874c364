using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The interactive side of the embedded authorization server: the <see cref="LoginPage"/> on the authorization
/// endpoint, authorization codes bound to PKCE S256 and the redirect URI, and the public clients' token grants
/// (authorization code; rotating refresh tokens when <c>offline_access</c> is granted).
/// </summary>
/// <remarks>
/// Concurrency: every table is a concurrent dictionary, codes and refresh tokens are taken with TryRemove (one use).
/// Reuse detection (RFC 9700 §4.14.2): a spent refresh token presented again revokes its whole family (every live
/// refresh token issued from the same first grant) and is answered <c>invalid_grant</c>.
/// </remarks>
internal sealed class EmbeddedLogin(
    EmbeddedEndpoints endpoints, EmbeddedClientRegistry clients, TokenEndpointResponses responses, TimeProvider time)
{
    private static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan CodeLifetime = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, PendingAuthorization> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IssuedCode> _codes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RefreshGrant> _refreshTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _spentRefreshTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _revokedFamilies = new(StringComparer.Ordinal);
    private long _refreshReuses;
    private long _loginPages;
    private long _consents;
    private long _denials;
    private long _authorizationCodeGrants;
    private long _refreshGrants;

    /// <summary>Login pages served: one per browser navigation to the authorization endpoint.</summary>
    public long LoginPages => Interlocked.Read(ref _loginPages);

    /// <summary>Forms submitted with "Allow".</summary>
    public long Consents => Interlocked.Read(ref _consents);

    /// <summary>Forms submitted with "Deny".</summary>
    public long Denials => Interlocked.Read(ref _denials);

    /// <summary>Access tokens issued for an authorization code.</summary>
    public long AuthorizationCodeGrants => Interlocked.Read(ref _authorizationCodeGrants);

    /// <summary>Access tokens issued for a refresh token.</summary>
    public long RefreshGrants => Interlocked.Read(ref _refreshGrants);

    /// <summary>Spent refresh tokens presented again while their family was live (each revoked its family).</summary>
    public long RefreshReuses => Interlocked.Read(ref _refreshReuses);

    public void Map(WebApplication app)
    {
        app.MapGet(EmbeddedEndpoints.AuthorizePath, LoginPageAsync);
        app.MapPost(EmbeddedEndpoints.AuthorizePath, ConsentAsync);
    }

    // ---------------------------------------------------------------- authorization endpoint

    private Task LoginPageAsync(HttpContext context)
    {
        var q = context.Request.Query;
        var clientId = q["client_id"].ToString();
        var redirectUri = q["redirect_uri"].ToString();
        if (!clients.TryGet(clientId, out var client))
        {
            return LoginPage.WriteAsync(context, StatusCodes.Status400BadRequest, "Unknown client", "<p>The client_id of this request is not registered here.</p>");
        }

        if (!client.Allows(redirectUri))
        {
            // RFC 6749 §4.1.2.1: never redirect to a redirect URI that was not registered.
            return LoginPage.WriteAsync(context, StatusCodes.Status400BadRequest, "Unregistered redirect URI", "<p>The redirect_uri of this request is not registered for this client.</p>");
        }

        var state = q["state"].Count > 0 ? q["state"].ToString() : null;
        if (q["response_type"] != "code" || q["code_challenge"].ToString().Length < 43 || q["code_challenge_method"] != "S256")
        {
            return Redirect(context, redirectUri, state, ("error", "invalid_request"), ("error_description", "response_type=code with a PKCE S256 code_challenge is required"));
        }

        var requested = q["scope"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToArray();
        var pending = new PendingAuthorization(
            TokenText.Random("rq_"), client, redirectUri, state, q["code_challenge"].ToString(), requested,
            q["resource"].Count > 0 ? q["resource"].ToString() : null, time.GetUtcNow());
        _pending[pending.RequestId] = pending;
        Interlocked.Increment(ref _loginPages);
        return LoginPage.WriteAsync(context, StatusCodes.Status200OK, LoginPage.Title, LoginPage.Form(pending, error: null));
    }

    private async Task ConsentAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            await LoginPage.WriteAsync(context, StatusCodes.Status400BadRequest, "Bad request", "<p>A form was expected.</p>");
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (!_pending.TryRemove(form["request_id"].ToString(), out var pending) || time.GetUtcNow() - pending.CreatedAt > PendingLifetime)
        {
            await LoginPage.WriteAsync(context, StatusCodes.Status400BadRequest, "Sign-in expired", "<p>This sign-in request expired or was already answered. Start the sign-in again from the application.</p>");
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
            await LoginPage.WriteAsync(context, StatusCodes.Status400BadRequest, LoginPage.Title, LoginPage.Form(pending, "Enter a user name (at most 64 characters)."));
            return;
        }

        var granted = form["scope"].Where(s => s is not null && pending.Scopes.Contains(s, StringComparer.Ordinal)).Select(s => s!).Distinct(StringComparer.Ordinal).ToArray();
        var code = TokenText.Random("ac_");
        _codes[code] = new IssuedCode(pending.Client.ClientId, pending.RedirectUri, pending.CodeChallenge, string.Join(' ', granted), user, time.GetUtcNow() + CodeLifetime);
        Interlocked.Increment(ref _consents);
        await Redirect(context, pending.RedirectUri, pending.State, ("code", code));
    }

    private Task Redirect(HttpContext context, string redirectUri, string? state, params (string Name, string Value)[] parameters)
    {
        var target = new StringBuilder(redirectUri);
        var separator = redirectUri.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        foreach (var (name, value) in parameters.Append(("iss", endpoints.Issuer)).Concat(state is null ? [] : [("state", state)]))
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

    /// <summary>The token request of a registered public client (see <see cref="EmbeddedClientRegistry.IsPublicClientRequest"/>).</summary>
    public async Task PublicClientTokenAsync(HttpContext context, IFormCollection form)
    {
        var clientId = form["client_id"].ToString();
        switch (form["grant_type"].ToString())
        {
            case "authorization_code":
                if (!_codes.TryRemove(form["code"].ToString(), out var code)
                    || code.ClientId != clientId
                    || code.RedirectUri != form["redirect_uri"].ToString()
                    || time.GetUtcNow() > code.ExpiresAt
                    || !PkceMatches(form["code_verifier"], code.CodeChallenge))
                {
                    await responses.RejectAsync(context, "invalid_grant", "the code is unknown, used, expired, or bound to another client, redirect URI or PKCE verifier");
                    return;
                }

                Interlocked.Increment(ref _authorizationCodeGrants);
                await responses.IssueAccessTokenAsync(context, code.Scope, NewRefreshToken(clientId, code.Scope, code.User, family: null));
                return;

            case "refresh_token":
                await RefreshAsync(context, form, clientId);
                return;

            default:
                await responses.RejectAsync(context, "unsupported_grant_type", "public clients use authorization_code or refresh_token");
                return;
        }
    }

    /// <summary>
    /// The refresh grant of an authenticated client (public, or confidential with
    /// <see cref="EmbeddedServerSettings.ConfidentialRefreshTokens"/>): rotates the refresh token, and a reuse of a spent
    /// one revokes its family.
    /// </summary>
    public async Task RefreshAsync(HttpContext context, IFormCollection form, string clientId)
    {
        var presented = form["refresh_token"].ToString();
        if (_refreshTokens.TryRemove(presented, out var refresh))
        {
            _spentRefreshTokens[presented] = refresh.Family;
            if (refresh.ClientId == clientId && !_revokedFamilies.ContainsKey(refresh.Family))
            {
                Interlocked.Increment(ref _refreshGrants);
                await responses.IssueAccessTokenAsync(context, refresh.Scope, NewRefreshToken(clientId, refresh.Scope, refresh.User, refresh.Family, always: true));
                return;
            }
        }
        else if (_spentRefreshTokens.TryGetValue(presented, out var family) && _revokedFamilies.TryAdd(family, true))
        {
            // Used once already: a client bug (two replicas with one token) or theft. Revoke the whole chain (once;
            // its tokens presented later are simply rejected).
            Interlocked.Increment(ref _refreshReuses);
            foreach (var live in _refreshTokens.Where(t => t.Value.Family == family).Select(t => t.Key).ToList())
            {
                if (_refreshTokens.TryRemove(live, out _))
                {
                    _spentRefreshTokens[live] = family;
                }
            }
        }

        await responses.RejectAsync(context, "invalid_grant", "the refresh token is unknown, was already used (its family is revoked), or belongs to another client");
    }

    /// <summary>
    /// A new refresh token in <paramref name="family"/> (a new family when null), or null when the scope has no
    /// <c>offline_access</c> and <paramref name="always"/> is false.
    /// </summary>
    public string? NewRefreshToken(string clientId, string scope, string user, string? family, bool always = false)
    {
        if (!always && !scope.Split(' ').Contains("offline_access", StringComparer.Ordinal))
        {
            return null;
        }

        var token = TokenText.Random("rt_");
        _refreshTokens[token] = new RefreshGrant(clientId, scope, user, family ?? TokenText.Random("rf_"));
        return token;
    }

    private static bool PkceMatches(StringValues verifier, string challenge)
    {
        var text = verifier.ToString();
        if (text.Length is < 43 or > 128)
        {
            return false;
        }

        var computed = TokenText.Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(text)));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(computed), Encoding.ASCII.GetBytes(challenge));
    }
}
