using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Extensions.Tests;

/// <summary>
/// A real HTTP/1.1 server (Kestrel) on 127.0.0.1 and an ephemeral port: an authorization server (RFC 8414 metadata,
/// a client-credentials token endpoint with client_secret_basic, or client_secret_jwt when <see cref="JwtSecret"/> is set)
/// and an API that accepts exactly the tokens it issued
/// and has not revoked. Counts token exchanges; can hold the token endpoint until released.
/// </summary>
/// <remarks>Concurrency: counters are Interlocked, sets are concurrent; handlers run on Kestrel's threads.</remarks>
internal sealed class LoopbackAuthority : IAsyncDisposable
{
    public const string ClientId = "billing-client";
    public const string ClientSecret = "billing-secret-SECRET";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, bool> _valid = new(StringComparer.Ordinal);
    private int _exchanges;
    private int _apiCalls;
    private int _metadataRequests;
    private volatile TaskCompletionSource? _hold;

    private LoopbackAuthority(WebApplication app) => _app = app;

    /// <summary>The origin, for example <c>http://127.0.0.1:41234</c>.</summary>
    public string Origin { get; private set; } = string.Empty;

    /// <summary>The token endpoint.</summary>
    public string TokenEndpoint => Origin + "/token";

    /// <summary>The API's data resource.</summary>
    public string ApiData => Origin + "/api/data";

    /// <summary>Client-credentials exchanges answered (or held) so far.</summary>
    public int Exchanges => Volatile.Read(ref _exchanges);

    /// <summary>Requests to the API so far.</summary>
    public int ApiCalls => Volatile.Read(ref _apiCalls);

    /// <summary>Metadata requests so far.</summary>
    public int MetadataRequests => Volatile.Read(ref _metadataRequests);

    /// <summary>Completes when <c>/invoices/open</c> was answered with 200 (the README's worker).</summary>
    public TaskCompletionSource InvoicesServed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The <c>expires_in</c> of issued tokens.</summary>
    public int ExpiresIn { get; set; } = 3600;

    /// <summary>
    /// When set, the token endpoint accepts only <c>client_secret_jwt</c> with this secret: an HS256 assertion with
    /// iss = sub = <see cref="ClientId"/>, aud = <see cref="TokenEndpoint"/>, an exp and a jti never seen before
    /// (the secret itself must not be sent).
    /// </summary>
    public string? JwtSecret { get; set; }

    /// <summary>The <c>jti</c> of every accepted client assertion.</summary>
    public ConcurrentDictionary<string, bool> AssertionIds { get; } = new(StringComparer.Ordinal);

    public static async Task<LoopbackAuthority> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(o => o.Limits.MaxConcurrentConnections = null).UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var authority = new LoopbackAuthority(app);
        app.Run(authority.HandleAsync);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        authority.Origin = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return authority;
    }

    /// <summary>Holds every later token request until the returned source is completed.</summary>
    public TaskCompletionSource HoldTokens()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _hold = hold;
        return hold;
    }

    /// <summary>Stops holding token requests (those held stay held until their source completes).</summary>
    public void Unhold() => _hold = null;

    /// <summary>The API rejects every token issued so far from now on (as after a key rotation at the server).</summary>
    public void RevokeAll() => _valid.Clear();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        switch (context.Request.Path.Value)
        {
            case "/.well-known/oauth-authorization-server":
                Interlocked.Increment(ref _metadataRequests);
                await WriteJsonAsync(context, new Dictionary<string, object> { ["issuer"] = Origin, ["token_endpoint"] = TokenEndpoint });
                return;
            case "/token":
                await TokenAsync(context);
                return;
            case "/invoices/open":
            case "/api/data":
                Interlocked.Increment(ref _apiCalls);
                var authorization = context.Request.Headers.Authorization.ToString();
                if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || !_valid.ContainsKey(authorization[7..]))
                {
                    context.Response.StatusCode = 401;
                    context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
                    return;
                }

                await WriteJsonAsync(context, new Dictionary<string, object> { ["ok"] = true });
                if (context.Request.Path.Value == "/invoices/open")
                {
                    InvoicesServed.TrySetResult();
                }

                return;
            default:
                context.Response.StatusCode = 404;
                return;
        }
    }

    private async Task TokenAsync(HttpContext context)
    {
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(ClientId + ":" + Uri.EscapeDataString(ClientSecret)));
        var form = await context.Request.ReadFormAsync();
        var authenticated = JwtSecret is { } secret
            ? await IsValidAssertionAsync(form, secret) && context.Request.Headers.Authorization.Count == 0 && !form.ContainsKey("client_secret")
            : context.Request.Headers.Authorization.ToString() == expected;
        if (!authenticated || form["grant_type"] != "client_credentials")
        {
            await WriteJsonAsync(context, new Dictionary<string, object> { ["error"] = "invalid_client" }, 401);
            return;
        }

        var number = Interlocked.Increment(ref _exchanges);
        if (_hold is { } hold)
        {
            await hold.Task.WaitAsync(context.RequestAborted);
        }

        var token = $"tok-{number}";
        _valid[token] = true;
        await WriteJsonAsync(context, new Dictionary<string, object> { ["access_token"] = token, ["token_type"] = "Bearer", ["expires_in"] = ExpiresIn });
    }

    private async Task<bool> IsValidAssertionAsync(IFormCollection form, string secret)
    {
        if (form["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || form["client_assertion"].ToString() is not { Length: > 0 } assertion)
        {
            return false;
        }

        var result = await new JsonWebTokenHandler().ValidateTokenAsync(assertion, new TokenValidationParameters
        {
            IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)),
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidIssuer = ClientId,
            ValidAudience = TokenEndpoint,
            ValidateLifetime = false, // the host's clock is a fake one; exp is checked for presence
        });
        return result.IsValid
            && result.SecurityToken is JsonWebToken { Subject: ClientId } jwt
            && jwt.TryGetPayloadValue<long>("exp", out _)
            && AssertionIds.TryAdd(jwt.Id, true);
    }

    private static async Task WriteJsonAsync(HttpContext context, object document, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(document));
    }
}
