using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// A real HTTP authorization server for the multi-process test (Kestrel on 127.0.0.1, a free port): protected resource
/// metadata for <c>/mcp</c>, RFC 8414 metadata, and a token endpoint with the client credentials grant and rotating
/// refresh tokens with reuse detection — presenting a refresh token that was already used revokes its whole family
/// (every later refresh token of that chain) and answers <c>invalid_grant</c>, as strict servers do.
/// </summary>
internal sealed class RotatingAuthorizationServer : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, (int Family, bool Used)> _refreshTokens = new(StringComparer.Ordinal);
    private readonly HashSet<int> _revokedFamilies = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly int _lifetimeSeconds;
    private WebApplication? _app;
    private int _families;
    private int _issued;
    private int _clientCredentials;
    private int _refreshes;
    private int _invalidGrants;
    private int _reuses;
    private TimeSpan? _firstGrant;

    private RotatingAuthorizationServer(int lifetimeSeconds) => _lifetimeSeconds = lifetimeSeconds;

    public string BaseUrl { get; private set; } = string.Empty;

    public int ClientCredentialsGrants => Volatile.Read(ref _clientCredentials);

    public int RefreshGrants => Volatile.Read(ref _refreshes);

    /// <summary>Successful exchanges (client credentials + refresh).</summary>
    public int Exchanges => Volatile.Read(ref _issued);

    public int InvalidGrants => Volatile.Read(ref _invalidGrants);

    /// <summary>Refresh tokens presented a second time (each revoked its family).</summary>
    public int Reuses => Volatile.Read(ref _reuses);

    /// <summary>When the first grant arrived, on this server's stopwatch.</summary>
    public TimeSpan? FirstGrant { get { lock (_gate) { return _firstGrant; } } }

    public TimeSpan Now => _clock.Elapsed;

    public static async Task<RotatingAuthorizationServer> StartAsync(int lifetimeSeconds)
    {
        var server = new RotatingAuthorizationServer(lifetimeSeconds);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapGet("/.well-known/oauth-protected-resource/mcp", () => Results.Json(new Dictionary<string, object>
        {
            ["resource"] = server.BaseUrl + "/mcp",
            ["authorization_servers"] = new[] { server.BaseUrl },
        }));
        app.MapGet("/.well-known/oauth-authorization-server", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = server.BaseUrl,
            ["token_endpoint"] = server.BaseUrl + "/token",
            ["response_types_supported"] = new[] { "code" },
            ["grant_types_supported"] = new[] { "client_credentials", "refresh_token" },
            ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_basic", "client_secret_post" },
        }));
        app.MapPost("/token", async (HttpRequest request) => server.Token(await request.ReadFormAsync()));
        await app.StartAsync();
        server._app = app;
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
    }

    private IResult Token(IFormCollection form)
    {
        lock (_gate)
        {
            _firstGrant ??= _clock.Elapsed;
            int family;
            switch (form["grant_type"].ToString())
            {
                case "client_credentials":
                    _clientCredentials++;
                    family = ++_families;
                    break;

                case "refresh_token":
                    _refreshes++;
                    var presented = form["refresh_token"].ToString();
                    if (!_refreshTokens.TryGetValue(presented, out var state) || _revokedFamilies.Contains(state.Family))
                    {
                        _invalidGrants++;
                        return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
                    }

                    if (state.Used)
                    {
                        // Reuse detection: the chain is compromised; revoke it (its current refresh token too).
                        _reuses++;
                        _invalidGrants++;
                        _revokedFamilies.Add(state.Family);
                        return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
                    }

                    _refreshTokens[presented] = state with { Used = true };
                    family = state.Family;
                    break;

                default:
                    return Results.Json(new { error = "unsupported_grant_type" }, statusCode: 400);
            }

            var n = ++_issued;
            var refreshToken = string.Create(CultureInfo.InvariantCulture, $"rt-{family}-{n}-{Guid.NewGuid():N}");
            _refreshTokens[refreshToken] = (family, false);
            return Results.Json(new Dictionary<string, object>
            {
                ["access_token"] = string.Create(CultureInfo.InvariantCulture, $"at-{n}-{Guid.NewGuid():N}"),
                ["token_type"] = "Bearer",
                ["expires_in"] = _lifetimeSeconds,
                ["refresh_token"] = refreshToken,
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
