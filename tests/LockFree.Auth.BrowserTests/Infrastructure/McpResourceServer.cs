using System.ComponentModel;
using System.Net;
using LockFree.Cli.Embedded;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;

namespace LockFree.Auth.BrowserTests.Infrastructure;

/// <summary>
/// A protected MCP server (the official SDK's ASP.NET Core transport at <c>/mcp</c>, one <c>echo</c> tool) on Kestrel at
/// 127.0.0.1 with an ephemeral port, whose authorization server is the CLI's <see cref="EmbeddedServer"/> (the login
/// page): RFC 9728 metadata names it, and a token is valid when that server issued it and it is still active.
/// </summary>
internal sealed class McpResourceServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _unauthorized;

    private McpResourceServer(WebApplication app) => _app = app;

    public string Origin { get; private set; } = string.Empty;

    public Uri McpUrl => new(Origin + "/mcp");

    public int Unauthorized => Volatile.Read(ref _unauthorized);

    public static async Task<McpResourceServer> StartAsync(EmbeddedServer authorizationServer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Services.AddMcpServer().WithHttpTransport().WithTools<EchoTools>();
        var app = builder.Build();
        var server = new McpResourceServer(app);
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/mcp"))
            {
                var header = context.Request.Headers.Authorization.ToString();
                if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || !authorizationServer.IsActive(header["Bearer ".Length..]))
                {
                    Interlocked.Increment(ref server._unauthorized);
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    context.Response.Headers.WWWAuthenticate = $"Bearer resource_metadata=\"{server.Origin}/.well-known/oauth-protected-resource/mcp\"";
                    return;
                }
            }

            await next(context);
        });
        app.MapGet("/.well-known/oauth-protected-resource/mcp", () => Results.Json(new Dictionary<string, object>
        {
            ["resource"] = server.Origin + "/mcp",
            ["authorization_servers"] = new[] { authorizationServer.Issuer },
            ["scopes_supported"] = new[] { "storm" },
        }));
        app.MapMcp("/mcp");
        await app.StartAsync();
        server.Origin = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
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
