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
/// (every later refresh token of that chain) and answers <c>invalid_grant</c>, as strict servers do. It records every
/// exchange with the process that sent it (the replica host's <c>X-Replica-Pid</c> header), and can stall the first
/// refresh (the fault tests: the lease holder is killed mid-exchange): that request is held without being processed —
/// its refresh token is not spent — until the client goes away (or 30 s), and <see cref="Stalled"/> names its process.
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
    private readonly List<ExchangeRecord> _log = [];
    private readonly TaskCompletionSource<ExchangeRecord> _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stallFirstRefresh;
    private readonly CancellationTokenSource _stopping = new();

    private RotatingAuthorizationServer(int lifetimeSeconds, bool stallFirstRefresh)
    {
        _lifetimeSeconds = lifetimeSeconds;
        _stallFirstRefresh = stallFirstRefresh ? 1 : 0;
    }

    /// <summary>One token request: when it arrived, its grant, the process that sent it, whether a token was issued.</summary>
    public sealed record ExchangeRecord(TimeSpan At, string Grant, int Pid, bool Issued);

    /// <summary>Every token request that was processed (not the stalled one), in order.</summary>
    public IReadOnlyList<ExchangeRecord> Log { get { lock (_gate) { return [.. _log]; } } }

    /// <summary>The stalled first refresh (when the server was started with <c>stallFirstRefresh</c>): its process and arrival.</summary>
    public Task<ExchangeRecord> Stalled => _stalled.Task;

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

    public static async Task<RotatingAuthorizationServer> StartAsync(int lifetimeSeconds, bool stallFirstRefresh = false)
    {
        var server = new RotatingAuthorizationServer(lifetimeSeconds, stallFirstRefresh);
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
        app.MapPost("/token", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync();
            var pid = int.TryParse(context.Request.Headers["X-Replica-Pid"].ToString(), CultureInfo.InvariantCulture, out var p) ? p : 0;
            if (form["grant_type"] == "refresh_token" && Interlocked.Exchange(ref server._stallFirstRefresh, 0) == 1)
            {
                // Held, never processed: the refresh token stays unspent, as if the holder died before the server saw it.
                server._stalled.TrySetResult(new ExchangeRecord(server.Now, "refresh_token", pid, Issued: false));
                using var released = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, server._stopping.Token);
                await Task.WhenAny(Task.Delay(TimeSpan.FromSeconds(30), released.Token));
                return Results.StatusCode(503);
            }

            return server.Token(form, pid);
        });
        await app.StartAsync();
        server._app = app;
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
    }

    private IResult Token(IFormCollection form, int pid)
    {
        lock (_gate)
        {
            var result = TokenLocked(form);
            var grant = form["grant_type"].ToString();
            _log.Add(new ExchangeRecord(_clock.Elapsed, grant, pid, result is not null && grant is "client_credentials" or "refresh_token"));
            return result ?? Results.Json(new { error = "invalid_grant" }, statusCode: 400);
        }
    }

    // Under _gate; null = invalid_grant.
    private IResult? TokenLocked(IFormCollection form)
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
                    return null;
                }

                if (state.Used)
                {
                    // Reuse detection: the chain is compromised; revoke it (its current refresh token too).
                    _reuses++;
                    _invalidGrants++;
                    _revokedFamilies.Add(state.Family);
                    return null;
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

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _stopping.Dispose();
    }
}
