using System.Collections.Concurrent;
using System.ComponentModel;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

namespace LockFree.Auth.IntegrationTests;

/// <summary>
/// An in-process protected MCP server (the official SDK's ASP.NET Core transport at <c>/mcp</c>) plus a tiny OAuth
/// 2.1 authorization server (RFC 9728 + RFC 8414 metadata, RFC 7591 registration, authorization code with PKCE S256,
/// rotating refresh tokens), on Kestrel at 127.0.0.1 with an ephemeral port.
/// </summary>
internal sealed class ProtectedMcpServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _accessTokens = new();
    private readonly ConcurrentDictionary<string, bool> _refreshTokens = new();
    private readonly ConcurrentDictionary<string, (string Challenge, string Resource)> _codes = new();
    private int _counter;
    private int _authorizations;
    private int _codeGrants;
    private int _refreshGrants;
    private int _invalidGrants;
    private int _registrations;
    private int _unauthorized;

    private ProtectedMcpServer(WebApplication app) => _app = app;

    public string Origin { get; private set; } = string.Empty;
    public Uri McpUrl => new(Origin + "/mcp");
    public int Authorizations => Volatile.Read(ref _authorizations);
    public int CodeGrants => Volatile.Read(ref _codeGrants);
    public int RefreshGrants => Volatile.Read(ref _refreshGrants);
    public int InvalidGrants => Volatile.Read(ref _invalidGrants);
    public int Registrations => Volatile.Read(ref _registrations);
    public int Unauthorized => Volatile.Read(ref _unauthorized);

    public void RevokeAllAccessTokens() => _accessTokens.Clear();

    public static async Task<ProtectedMcpServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddMcpServer().WithHttpTransport().WithTools<EchoTools>();
        var app = builder.Build();
        var server = new ProtectedMcpServer(app);
        server.Map(app);
        await app.StartAsync();
        server.Origin = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
    }

    private void Map(WebApplication app)
    {
        // The resource: every /mcp request needs a token this server issued.
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/mcp"))
            {
                var header = context.Request.Headers.Authorization.ToString();
                if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || !_accessTokens.ContainsKey(header["Bearer ".Length..]))
                {
                    Interlocked.Increment(ref _unauthorized);
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    context.Response.Headers.WWWAuthenticate =
                        $"Bearer error=\"invalid_token\", resource_metadata=\"{Origin}/.well-known/oauth-protected-resource/mcp\"";
                    return;
                }
            }

            await next(context);
        });

        app.MapGet("/.well-known/oauth-protected-resource/mcp", () => Results.Json(new Dictionary<string, object>
        {
            ["resource"] = Origin + "/mcp",
            ["authorization_servers"] = new[] { Origin },
            ["scopes_supported"] = new[] { "mcp:tools" },
        }));

        app.MapGet("/.well-known/oauth-authorization-server", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Origin,
            ["authorization_endpoint"] = Origin + "/authorize",
            ["token_endpoint"] = Origin + "/token",
            ["registration_endpoint"] = Origin + "/register",
            ["response_types_supported"] = new[] { "code" },
            ["grant_types_supported"] = new[] { "authorization_code", "refresh_token" },
            ["code_challenge_methods_supported"] = new[] { "S256" },
            ["token_endpoint_auth_methods_supported"] = new[] { "none" },
            ["scopes_supported"] = new[] { "mcp:tools", "offline_access" },
            ["authorization_response_iss_parameter_supported"] = true,
        }));

        app.MapPost("/register", () =>
        {
            Interlocked.Increment(ref _registrations);
            return Results.Json(new Dictionary<string, object> { ["client_id"] = "client-" + Interlocked.Increment(ref _counter), ["token_endpoint_auth_method"] = "none" }, statusCode: 201);
        });

        app.MapGet("/authorize", (HttpRequest request) =>
        {
            Interlocked.Increment(ref _authorizations);
            var q = request.Query;
            if (q["code_challenge_method"] != "S256" || string.IsNullOrEmpty(q["code_challenge"]) || q["response_type"] != "code")
            {
                return Results.BadRequest();
            }

            var code = "code-" + Interlocked.Increment(ref _counter);
            _codes[code] = (q["code_challenge"]!, q["resource"].ToString());
            return Results.Redirect($"{q["redirect_uri"]}?code={code}&state={Uri.EscapeDataString(q["state"]!)}&iss={Uri.EscapeDataString(Origin)}");
        });

        app.MapPost("/token", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            string? scopeResource;
            switch (form["grant_type"].ToString())
            {
                case "authorization_code":
                    Interlocked.Increment(ref _codeGrants);
                    var verifier = form["code_verifier"].ToString();
                    if (!_codes.TryRemove(form["code"].ToString(), out var pending)
                        || Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))).TrimEnd('=').Replace('+', '-').Replace('/', '_') != pending.Challenge
                        || form["resource"] != pending.Resource)
                    {
                        return InvalidGrant();
                    }

                    scopeResource = pending.Resource;
                    break;
                case "refresh_token":
                    Interlocked.Increment(ref _refreshGrants);
                    // Rotating refresh tokens: each one works once.
                    if (!_refreshTokens.TryRemove(form["refresh_token"].ToString(), out _))
                    {
                        return InvalidGrant();
                    }

                    scopeResource = form["resource"];
                    break;
                default:
                    return Results.Json(new Dictionary<string, string> { ["error"] = "unsupported_grant_type" }, statusCode: 400);
            }

            var n = Interlocked.Increment(ref _counter);
            var access = "at-" + n;
            var refresh = "rt-" + n;
            _accessTokens[access] = DateTimeOffset.MaxValue;
            _refreshTokens[refresh] = true;
            return Results.Json(new Dictionary<string, object>
            {
                ["access_token"] = access,
                ["token_type"] = "Bearer",
                ["expires_in"] = 3600,
                ["refresh_token"] = refresh,
                ["scope"] = "mcp:tools offline_access",
            });
        });

        app.MapMcp("/mcp");
    }

    private IResult InvalidGrant()
    {
        Interlocked.Increment(ref _invalidGrants);
        return Results.Json(new Dictionary<string, string> { ["error"] = "invalid_grant" }, statusCode: 400);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

[McpServerToolType]
public sealed class EchoTools
{
    [McpServerTool(Name = "echo"), Description("Echoes the message back.")]
    public static string Echo(string message) => "echo: " + message;
}
