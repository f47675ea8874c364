using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>The EF Core context of OpenIddict's stores (SQLite in a temporary file).</summary>
public sealed class InteropDbContext(DbContextOptions<InteropDbContext> options) : DbContext(options);

/// <summary>
/// OpenIddict 7.9.0 as an in-process authorization server on Kestrel (127.0.0.1, ephemeral port): SQLite temp-file
/// store (EF Core InMemory cannot revoke a token chain), PKCE required, rotating refresh tokens with reuse leeway 0,
/// the resource registered for RFC 8707 and permitted per client, ephemeral keys, unencrypted JWT access tokens,
/// passthrough authorization (signs in a fixed user without UI) and token endpoints.
/// A middleware in front of OpenIddict records every token, revocation, discovery and authorization request it handled.
/// </summary>
public sealed class OpenIddictServer : IAuthorizationServer
{
    private const string AuthorizationPath = "/connect/authorize";
    private const string TokenPath = "/connect/token";
    private const string RevocationPath = "/connect/revoke";
    private const string RedirectUri = "http://127.0.0.1/callback";

    /// <summary>A scope every client may request but the user never grants: the authorization endpoint answers with an error redirect.</summary>
    public const string DeniedScope = "mcp:denied";

    /// <summary>The <c>error_description</c> of that redirect, with characters outside RFC 6749's set (a quote, a backslash, non-ASCII, a line break).</summary>
    public const string DeniedDescription = "The user declined \"mcp:denied\" \\ r\u00e9sum\u00e9\nTrace: 42";

    /// <summary>The <c>error_uri</c> of that redirect.</summary>
    public const string DeniedErrorUri = "https://documentation.example.com/errors/mcp-denied";

    private readonly WebApplication _app;
    private readonly string _databasePath;
    private readonly ConcurrentQueue<ServerEvent> _events;
    private readonly StrongBox<bool> _oauthMetadata;

    private OpenIddictServer(WebApplication app, string databasePath, ConcurrentQueue<ServerEvent> events, StrongBox<bool> oauthMetadata, ProtectedResource resource, string issuer)
    {
        _app = app;
        _databasePath = databasePath;
        _events = events;
        _oauthMetadata = oauthMetadata;
        Resource = resource;
        Issuer = issuer;
    }

    public string Name => "OpenIddict";

    public string Issuer { get; }

    public Uri RevocationEndpoint => new(Issuer.TrimEnd('/') + RevocationPath);

    public ProtectedResource Resource { get; }

    public static async Task<OpenIddictServer> StartAsync()
    {
        var resource = await ProtectedResource.StartAsync();
        var resourceUrl = resource.Url.ToString();
        var databasePath = Path.Combine(Path.GetTempPath(), $"lockfree-interop-{Guid.NewGuid():N}.db");
        var events = new ConcurrentQueue<ServerEvent>();
        var oauthMetadata = new StrongBox<bool>(true);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Services.AddDbContext<InteropDbContext>(o =>
        {
            o.UseSqlite($"Data Source={databasePath}");
            o.UseOpenIddict();
        });
        builder.Services.AddAuthentication();
        builder.Services.AddOpenIddict()
            .AddCore(o => o.UseEntityFrameworkCore().UseDbContext<InteropDbContext>())
            .AddServer(o =>
            {
                o.SetAuthorizationEndpointUris(AuthorizationPath.TrimStart('/'))
                    .SetTokenEndpointUris(TokenPath.TrimStart('/'))
                    .SetRevocationEndpointUris(RevocationPath.TrimStart('/'));
                o.AllowAuthorizationCodeFlow().AllowRefreshTokenFlow().AllowClientCredentialsFlow();
                o.RequireProofKeyForCodeExchange();
                o.SetRefreshTokenReuseLeeway(TimeSpan.Zero);
                o.RegisterScopes("mcp:read", "mcp:admin", DeniedScope, Scopes.OfflineAccess);
                o.RegisterResources(resourceUrl);
                o.AddEphemeralEncryptionKey().AddEphemeralSigningKey();
                o.DisableAccessTokenEncryption();
                o.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableTokenEndpointPassthrough()
                    .DisableTransportSecurityRequirement();
            });

        var app = builder.Build();
        app.Use((HttpContext context, RequestDelegate next) => RecordAsync(context, next, events, oauthMetadata));
        app.UseAuthentication();
        app.MapMethods(AuthorizationPath, ["GET", "POST"], (Delegate)((HttpContext context) => Authorize(context)));
        app.MapPost(TokenPath, (Delegate)((HttpContext context) => TokenAsync(context)));

        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<InteropDbContext>().Database.EnsureCreatedAsync();
            await RegisterClientsAsync(scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>(), resourceUrl);
        }

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var issuer = $"http://127.0.0.1:{new Uri(address).Port}/";
        resource.Issuer = issuer;
        await resource.LoadKeysNowAsync();
        return new OpenIddictServer(app, databasePath, events, oauthMetadata, resource, issuer);
    }

    public Task<IReadOnlyList<ServerEvent>> EventsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ServerEvent>>([.. _events]);

    public Task ResetAsync(CancellationToken cancellationToken)
    {
        _events.Clear();
        _oauthMetadata.Value = true;
        Resource.ResetCounters();
        return Task.CompletedTask;
    }

    public Task SetOAuthMetadataAsync(bool enabled, CancellationToken cancellationToken)
    {
        _oauthMetadata.Value = enabled;
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        await Resource.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            File.Delete(_databasePath);
        }
        catch (IOException)
        {
            // A temp file left behind is harmless.
        }
    }

    private static async Task RegisterClientsAsync(IOpenIddictApplicationManager manager, string resourceUrl)
    {
        var resourcePermission = Permissions.Prefixes.Resource + resourceUrl;
        string[] scopePermissions = [Permissions.Prefixes.Scope + "mcp:read", Permissions.Prefixes.Scope + "mcp:admin", Permissions.Prefixes.Scope + DeniedScope];

        OpenIddictApplicationDescriptor Confidential(string id)
        {
            var d = new OpenIddictApplicationDescriptor { ClientId = id, ClientType = ClientTypes.Confidential };
            d.Permissions.UnionWith([Permissions.Endpoints.Token, Permissions.Endpoints.Revocation, Permissions.GrantTypes.ClientCredentials, resourcePermission, .. scopePermissions]);
            return d;
        }

        var basic = Confidential("cc-basic");
        basic.ClientSecret = "secret-basic";
        await manager.CreateAsync(basic);
        var post = Confidential("cc-post");
        post.ClientSecret = "secret-post";
        await manager.CreateAsync(post);
        var jwt = Confidential("cc-jwt");
        jwt.JsonWebKeySet = new JsonWebKeySet { Keys = { ClientKeys.PublicJwk } };
        await manager.CreateAsync(jwt);

        foreach (var id in new[] { "code-client", "code-short" })
        {
            var d = new OpenIddictApplicationDescriptor { ClientId = id, ClientType = ClientTypes.Public, ApplicationType = ApplicationTypes.Native };
            d.RedirectUris.Add(new Uri(RedirectUri));
            d.Permissions.UnionWith([
                Permissions.Endpoints.Authorization, Permissions.Endpoints.Token, Permissions.Endpoints.Revocation,
                Permissions.GrantTypes.AuthorizationCode, Permissions.GrantTypes.RefreshToken, Permissions.ResponseTypes.Code,
                Permissions.Prefixes.Scope + Scopes.OfflineAccess, resourcePermission, .. scopePermissions]);
            d.Requirements.Add(Requirements.Features.ProofKeyForCodeExchange);
            await manager.CreateAsync(d);
        }
    }

    /// <summary>The passthrough authorization endpoint: signs in the fixed user "user-1" with what was requested (no UI).</summary>
    private static IResult Authorize(HttpContext context)
    {
        var request = context.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("No OpenIddict request.");
        if (request.HasScope(DeniedScope))
        {
            // OpenIddict turns this into the error redirect (error, error_description, error_uri, state, iss).
            var properties = new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.InvalidScope,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = DeniedDescription,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorUri] = DeniedErrorUri,
            });
            return Results.Forbid(properties, [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }

        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, "user-1");
        identity.SetScopes(request.GetScopes());
        identity.SetResources(request.GetResources());
        identity.SetAudiences(request.GetResources());
        if (request.ClientId == "code-short")
        {
            identity.SetAccessTokenLifetime(TimeSpan.FromSeconds(5));
        }

        identity.SetDestinations(static _ => [Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>The passthrough token endpoint: client credentials build the client's identity; code and refresh reuse the validated principal.</summary>
    private static async Task<IResult> TokenAsync(HttpContext context)
    {
        var request = context.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("No OpenIddict request.");
        ClaimsIdentity identity;
        if (request.IsClientCredentialsGrantType())
        {
            identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            identity.SetClaim(Claims.Subject, request.ClientId);
            identity.SetScopes(request.GetScopes());
        }
        else
        {
            var result = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            identity = new ClaimsIdentity(result.Principal!.Claims, TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        }

        // RFC 8707: the token is for the resource this request names (OpenIddict validated that it is registered and permitted).
        if (request.GetResources() is { Length: > 0 } resources)
        {
            identity.SetResources(resources);
            identity.SetAudiences(resources);
        }

        identity.SetDestinations(static _ => [Destinations.AccessToken]);
        return Results.SignIn(new ClaimsPrincipal(identity), null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>Records what OpenIddict answered to each protocol request (on the wire, after the response was produced).</summary>
    private static async Task RecordAsync(HttpContext context, RequestDelegate next, ConcurrentQueue<ServerEvent> events, StrongBox<bool> oauthMetadata)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        var kind = path switch
        {
            TokenPath => "token",
            RevocationPath => "revocation",
            AuthorizationPath => "authorization",
            _ when path.StartsWith("/.well-known/", StringComparison.Ordinal) => "discovery",
            _ => null,
        };
        if (kind is null)
        {
            await next(context);
            return;
        }

        if (kind == "discovery" && path == "/.well-known/oauth-authorization-server" && !oauthMetadata.Value)
        {
            context.Response.StatusCode = 404;
            events.Enqueue(new ServerEvent(kind, context.Request.Method, path, 404));
            return;
        }

        string? grantType = null, clientAuth = null, resource = null;
        if (context.Request.HasFormContentType)
        {
            context.Request.EnableBuffering();
            var form = await context.Request.ReadFormAsync();
            context.Request.Body.Position = 0;
            grantType = form["grant_type"].FirstOrDefault();
            resource = form["resource"].FirstOrDefault();
            clientAuth = context.Request.Headers.Authorization.ToString().StartsWith("Basic ", StringComparison.Ordinal) ? "client_secret_basic"
                : form.ContainsKey("client_assertion") ? "private_key_jwt"
                : form.ContainsKey("client_secret") ? "client_secret_post"
                : "none";
        }
        else if (kind == "authorization")
        {
            resource = context.Request.Query["resource"].FirstOrDefault();
        }

        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }

        string? error = null, description = null;
        if (context.Response.StatusCode >= 400 && buffer.Length > 0)
        {
            try
            {
                using var json = JsonDocument.Parse(buffer.ToArray());
                if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("error", out var e))
                {
                    error = e.GetString();
                    description = json.RootElement.TryGetProperty("error_description", out var d) ? d.GetString() : null;
                }
            }
            catch (JsonException)
            {
            }
        }

        events.Enqueue(new ServerEvent(
            kind, context.Request.Method, path, context.Response.StatusCode, grantType, clientAuth, resource, error, description,
            context.Request.Headers.ContainsKey("DPoP"), context.Response.Headers.Location.FirstOrDefault()));
        buffer.Position = 0;
        await buffer.CopyToAsync(original);
    }
}
