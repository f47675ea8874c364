using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>
/// A tiny MCP-like protected resource on Kestrel (127.0.0.1, ephemeral port) that validates the real servers' JWT
/// access tokens: signature against the authorization server's JWKS (found through its discovery document),
/// <c>iss</c>, <c>aud</c> = this resource's URL (RFC 8707), <c>exp</c> (1 s skew). It serves RFC 9728 metadata at
/// <c>/.well-known/oauth-protected-resource/mcp</c> naming the authorization server, answers 401 with a challenge
/// (<c>resource_metadata</c>, <c>scope="mcp:read"</c>), requires <c>mcp:admin</c> on <c>/mcp/admin</c> (403
/// <c>insufficient_scope</c>), and rejects any token the test named with <see cref="Reject"/>.
/// </summary>
public sealed class ProtectedResource : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(10) };
    private readonly ConcurrentDictionary<string, byte> _rejected = new(StringComparer.Ordinal);
    private readonly JsonWebTokenHandler _handler = new();
    private volatile Task<IReadOnlyList<SecurityKey>>? _keys;
    private int _requests;
    private int _ok;
    private int _unauthorized;
    private int _forbidden;

    private ProtectedResource(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The resource URL (<c>http://127.0.0.1:port/mcp</c>): the RFC 8707 resource indicator and the tokens' audience.</summary>
    public Uri Url { get; }

    /// <summary>The <c>scope</c> of the 401 challenge.</summary>
    public string ChallengeScope { get; set; } = "mcp:read";

    /// <summary>The authorization server's issuer (set once it started).</summary>
    public string? Issuer { get; set; }

    public int Requests => Volatile.Read(ref _requests);

    public int Ok => Volatile.Read(ref _ok);

    public int Unauthorized => Volatile.Read(ref _unauthorized);

    public int Forbidden => Volatile.Read(ref _forbidden);

    /// <summary>The access tokens the resource accepted, in order (distinct).</summary>
    public ConcurrentDictionary<string, JsonWebToken> Accepted { get; } = new(StringComparer.Ordinal);

    public static async Task<ProtectedResource> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        ProtectedResource? self = null;
        app.Run(context => self!.HandleAsync(context));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var port = new Uri(address).Port;
        self = new ProtectedResource(app, new Uri($"http://127.0.0.1:{port}/mcp"));
        return self;
    }

    /// <summary>Reads the authorization server's signing keys now, so later discovery records show only the client's requests.</summary>
    public async Task LoadKeysNowAsync() => _ = await (_keys ??= LoadKeysAsync());

    /// <summary>Makes the resource answer 401 to <paramref name="accessToken"/> from now on (as if revoked at the resource).</summary>
    public void Reject(string accessToken) => _rejected[accessToken] = 0;

    public void ResetCounters()
    {
        Interlocked.Exchange(ref _requests, 0);
        Interlocked.Exchange(ref _ok, 0);
        Interlocked.Exchange(ref _unauthorized, 0);
        Interlocked.Exchange(ref _forbidden, 0);
        Accepted.Clear();
        ChallengeScope = "mcp:read";
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        _http.Dispose();
    }

    private string Origin => Url.GetLeftPart(UriPartial.Authority);

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (path == "/.well-known/oauth-protected-resource/mcp")
        {
            var json = new JsonObject
            {
                ["resource"] = Url.ToString(),
                ["authorization_servers"] = new JsonArray(Issuer ?? throw new InvalidOperationException("No issuer yet.")),
                ["scopes_supported"] = new JsonArray("mcp:read", "mcp:admin"),
                ["bearer_methods_supported"] = new JsonArray("header"),
            };
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(json.ToJsonString());
            return;
        }

        if (!path.StartsWith("/mcp", StringComparison.Ordinal))
        {
            context.Response.StatusCode = 404;
            return;
        }

        Interlocked.Increment(ref _requests);
        var header = context.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : null;
        var jwt = token is null || _rejected.ContainsKey(token) ? null : await ValidateAsync(token);
        if (jwt is null)
        {
            Interlocked.Increment(ref _unauthorized);
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate =
                $"Bearer error=\"invalid_token\", resource_metadata=\"{Origin}/.well-known/oauth-protected-resource/mcp\", scope=\"{ChallengeScope}\"";
            return;
        }

        var scopes = ScopesOf(jwt);
        if (path.StartsWith("/mcp/admin", StringComparison.Ordinal) && !scopes.Contains("mcp:admin"))
        {
            Interlocked.Increment(ref _forbidden);
            context.Response.StatusCode = 403;
            context.Response.Headers.WWWAuthenticate =
                $"Bearer error=\"insufficient_scope\", scope=\"mcp:read mcp:admin\", resource_metadata=\"{Origin}/.well-known/oauth-protected-resource/mcp\"";
            return;
        }

        Accepted.TryAdd(token!, jwt);
        Interlocked.Increment(ref _ok);
        await context.Response.WriteAsync("ok");
    }

    private static HashSet<string> ScopesOf(JsonWebToken jwt)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claim in jwt.Claims.Where(c => c.Type is "scope" or "scp"))
        {
            foreach (var s in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                set.Add(s);
            }
        }

        return set;
    }

    private async Task<JsonWebToken?> ValidateAsync(string token)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var keys = await (_keys ??= LoadKeysAsync());
            var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
            {
                ValidIssuer = Issuer,
                ValidAudience = Url.ToString(),
                IssuerSigningKeys = keys,
                ClockSkew = TimeSpan.FromSeconds(1),
                ValidateLifetime = true,
                RequireExpirationTime = true,
            });
            if (result.IsValid)
            {
                return (JsonWebToken)result.SecurityToken;
            }

            if (result.Exception is not SecurityTokenSignatureKeyNotFoundException)
            {
                return null;
            }

            _keys = null; // the server may have new keys: read its JWKS again once
        }

        return null;
    }

    private async Task<IReadOnlyList<SecurityKey>> LoadKeysAsync()
    {
        var issuer = Issuer ?? throw new InvalidOperationException("No issuer yet.");
        var discovery = issuer.TrimEnd('/') + "/.well-known/openid-configuration";
        using var configuration = JsonDocument.Parse(await _http.GetStringAsync(discovery));
        var jwksUri = configuration.RootElement.GetProperty("jwks_uri").GetString()!;
        var jwks = new JsonWebKeySet(await _http.GetStringAsync(jwksUri));
        return [.. jwks.GetSigningKeys()];
    }
}
