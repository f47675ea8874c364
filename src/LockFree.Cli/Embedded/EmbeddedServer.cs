using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LockFree.Cli.Embedded;

/// <summary>Settings of the embedded servers.</summary>
internal sealed record EmbeddedServerSettings
{
    /// <summary>Lifetime of every access token the authorization server issues (<c>expires_in</c>, whole seconds).</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the current access token is revoked once <see cref="EmbeddedServer.StartRevocations"/> ran; zero: never.</summary>
    public TimeSpan RevokeEvery { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>The client the authorization server knows.</summary>
    public string ClientId { get; init; } = "storm-client";

    /// <summary>The client secret (random per run; never printed).</summary>
    public string ClientSecret { get; init; } = RandomToken("cs_");

    /// <summary>
    /// The pre-registered public client of the authorization code grant (<c>lockfree login</c>): no secret, PKCE, any
    /// loopback IP redirect URI on any port (RFC 8252 §7.3).
    /// </summary>
    public string LoginClientId { get; init; } = "lockfree-cli";

    /// <summary>The client the identity provider knows (cross-app access).</summary>
    public string IdpClientId { get; init; } = "storm-idp-client";

    /// <summary>The identity provider client secret (random per run; never printed).</summary>
    public string IdpClientSecret { get; init; } = RandomToken("is_");

    internal static string RandomToken(string prefix) =>
        prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    internal static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>Why the protected resource answered 401.</summary>
internal enum RejectionKind
{
    /// <summary>No bearer token: the challenge that starts discovery.</summary>
    Challenge,

    /// <summary>The token was revoked by the server.</summary>
    Revoked,

    /// <summary>The token had expired when it arrived.</summary>
    Expired,

    /// <summary>A token the server never issued.</summary>
    Unknown,
}

/// <summary>
/// An OAuth authorization server (client credentials, JWT-bearer, authorization code with PKCE behind a real login page,
/// refresh tokens, RFC 7591 registration of public clients), an enterprise identity provider (RFC 8693 token exchange
/// issuing ID-JAGs) and a protected resource, all in one Kestrel app on 127.0.0.1 with an ephemeral port. Tokens are
/// opaque random strings; the server counts what it issued, rejected and revoked. See <c>EmbeddedServer.Login.cs</c>.
/// </summary>
/// <remarks>Concurrency: every counter is an Interlocked field and every table a concurrent dictionary.</remarks>
internal sealed partial class EmbeddedServer : IAsyncDisposable
{
    internal const string ResourcePath = "/mcp";
    internal const string TokenPath = "/token";
    internal const string IdpTokenPath = "/idp/token";
    internal const string IdJagTokenType = "urn:ietf:params:oauth:token-type:id-jag";
    internal const string IdTokenType = "urn:ietf:params:oauth:token-type:id_token";
    internal const string TokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
    internal const string JwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

    private readonly WebApplication _app;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, IssuedToken> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<long> _revocationTimestamps = new();
    private readonly ConcurrentQueue<long> _issueTimestamps = new();
    private readonly byte[] _signingKey = RandomNumberGenerator.GetBytes(32);
    private string? _latestAccessToken;
    private ITimer? _revocationTimer;
    private long _revocationStart;
    private TimeSpan _revocationUntil = TimeSpan.MaxValue;

    private long _clientCredentialsGrants;
    private long _jwtBearerGrants;
    private long _authorizationCodeGrants;
    private long _refreshGrants;
    private long _tokenExchanges;
    private long _rejectedGrants;
    private long _resourceOk;
    private long _challenges;
    private long _revokedRejections;
    private long _expiredRejections;
    private long _unknownRejections;
    private long _initialIssues;
    private long _aheadIssues;
    private long _lapsedIssues;
    private long _afterRevocationIssues;
    private long _redundantIssues;

    private EmbeddedServer(WebApplication app, EmbeddedServerSettings settings, TimeProvider time)
    {
        _app = app;
        Settings = settings;
        _time = time;
        IdToken = EmbeddedServerSettings.RandomToken("idt_");
    }

    public EmbeddedServerSettings Settings { get; }

    /// <summary>The base address, for example <c>http://127.0.0.1:41234</c> (no trailing slash).</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>The issuer of the authorization server (the base address).</summary>
    public string Issuer => BaseUri.GetLeftPart(UriPartial.Authority);

    /// <summary>The protected resource.</summary>
    public Uri ResourceUri => new(BaseUri, ResourcePath);

    /// <summary>The identity provider's token endpoint.</summary>
    public Uri IdpTokenEndpoint => new(BaseUri, IdpTokenPath);

    /// <summary>The user's ID token at the identity provider (the "signed-in user" of the cross-app flow).</summary>
    public string IdToken { get; }

    /// <summary>Counters since start.</summary>
    public EmbeddedServerCounters Counters => new(
        Interlocked.Read(ref _clientCredentialsGrants),
        Interlocked.Read(ref _jwtBearerGrants),
        Interlocked.Read(ref _authorizationCodeGrants),
        Interlocked.Read(ref _refreshGrants),
        Interlocked.Read(ref _tokenExchanges),
        Interlocked.Read(ref _rejectedGrants),
        Interlocked.Read(ref _resourceOk),
        Interlocked.Read(ref _challenges),
        Interlocked.Read(ref _revokedRejections),
        Interlocked.Read(ref _expiredRejections),
        Interlocked.Read(ref _unknownRejections),
        _revocationTimestamps.Count,
        LoginCounters,
        new IssueReasons(Interlocked.Read(ref _initialIssues), Interlocked.Read(ref _aheadIssues), Interlocked.Read(ref _lapsedIssues), Interlocked.Read(ref _afterRevocationIssues), Interlocked.Read(ref _redundantIssues)));

    /// <summary>When tokens were revoked (<see cref="TimeProvider.GetTimestamp"/> values).</summary>
    public IReadOnlyList<long> RevocationTimestamps => [.. _revocationTimestamps];

    /// <summary>When access tokens were issued (<see cref="TimeProvider.GetTimestamp"/> values).</summary>
    public IReadOnlyList<long> IssueTimestamps => [.. _issueTimestamps];

    /// <summary>Starts the servers on 127.0.0.1 with an ephemeral port.</summary>
    public static async Task<EmbeddedServer> StartAsync(EmbeddedServerSettings settings, TimeProvider time, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "lockfree" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        var server = new EmbeddedServer(app, settings, time);
        server.Map(app);
        await app.StartAsync(cancellationToken);
        var address = app.Urls.First();
        server.BaseUri = new Uri(address.Replace("localhost", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        return server;
    }

    /// <summary>Starts revoking the most recently issued access token every <see cref="EmbeddedServerSettings.RevokeEvery"/>.</summary>
    /// <param name="start">The start of the run (<see cref="TimeProvider.GetTimestamp"/>).</param>
    /// <param name="until">No revocation later than this offset from <paramref name="start"/>.</param>
    public void StartRevocations(long start, TimeSpan until)
    {
        if (Settings.RevokeEvery <= TimeSpan.Zero)
        {
            return;
        }

        _revocationStart = start;
        _revocationUntil = until;

        _revocationTimer = _time.CreateTimer(static s => ((EmbeddedServer)s!).OnRevocationTimer(), this, Settings.RevokeEvery, Settings.RevokeEvery);
    }

    private void OnRevocationTimer()
    {
        if (_time.GetElapsedTime(_revocationStart) <= _revocationUntil)
        {
            RevokeCurrent();
        }
    }

    /// <summary>Stops revoking tokens.</summary>
    public void StopRevocations() => _revocationTimer?.Dispose();

    /// <summary>Revokes the most recently issued access token; returns whether there was one to revoke.</summary>
    public bool RevokeCurrent()
    {
        var latest = Volatile.Read(ref _latestAccessToken);
        if (latest is null || !_tokens.TryGetValue(latest, out var issued) || issued.Revoked)
        {
            return false;
        }

        if (_tokens.TryUpdate(latest, issued with { Revoked = true }, issued))
        {
            _revocationTimestamps.Enqueue(_time.GetTimestamp());
            return true;
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        StopRevocations();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    private void Map(WebApplication app)
    {
        app.MapGet(ResourcePath, Resource);
        app.MapGet("/.well-known/oauth-protected-resource" + ResourcePath, ProtectedResourceMetadata);
        app.MapGet("/.well-known/oauth-protected-resource", ProtectedResourceMetadata);
        app.MapGet("/.well-known/oauth-authorization-server", AuthorizationServerMetadata);
        app.MapGet("/.well-known/openid-configuration", AuthorizationServerMetadata);
        app.MapPost(TokenPath, TokenAsync);
        app.MapPost(IdpTokenPath, IdpTokenAsync);
        MapLogin(app);
    }

    // ---------------------------------------------------------------- protected resource

    private Task Resource(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            Interlocked.Increment(ref _challenges);
            return Challenge(context, error: null);
        }

        var token = header["Bearer ".Length..].Trim();
        if (!_tokens.TryGetValue(token, out var issued))
        {
            Interlocked.Increment(ref _unknownRejections);
            return Challenge(context, "invalid_token");
        }

        if (issued.Revoked)
        {
            Interlocked.Increment(ref _revokedRejections);
            return Challenge(context, "invalid_token");
        }

        if (_time.GetUtcNow() >= issued.ExpiresAt)
        {
            Interlocked.Increment(ref _expiredRejections);
            return Challenge(context, "invalid_token");
        }

        Interlocked.Increment(ref _resourceOk);
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync("{\"ok\":true}");
    }

    private Task Challenge(HttpContext context, string? error)
    {
        var metadata = new Uri(BaseUri, "/.well-known/oauth-protected-resource" + ResourcePath);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = error is null
            ? $"Bearer resource_metadata=\"{metadata}\""
            : $"Bearer error=\"{error}\", resource_metadata=\"{metadata}\"";
        return Task.CompletedTask;
    }

    private Task ProtectedResourceMetadata(HttpContext context) => Json(context, new Dictionary<string, object>
    {
        ["resource"] = ResourceUri.ToString(),
        ["authorization_servers"] = new[] { Issuer },
        ["bearer_methods_supported"] = new[] { "header" },
        ["scopes_supported"] = new[] { "storm" },
    });

    // ---------------------------------------------------------------- authorization server

    private Task AuthorizationServerMetadata(HttpContext context) => Json(context, new Dictionary<string, object>
    {
        ["issuer"] = Issuer,
        ["authorization_endpoint"] = new Uri(BaseUri, "/authorize").ToString(),
        ["token_endpoint"] = new Uri(BaseUri, TokenPath).ToString(),
        ["registration_endpoint"] = new Uri(BaseUri, RegisterPath).ToString(),
        ["grant_types_supported"] = new[] { "client_credentials", JwtBearerGrant, "authorization_code", "refresh_token" },
        ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_basic", "client_secret_post", "none" },
        ["response_types_supported"] = new[] { "code" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
        ["authorization_response_iss_parameter_supported"] = true,
        ["scopes_supported"] = new[] { "storm", "offline_access" },
    });

    private async Task TokenAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            await OAuthError(context, "invalid_request", "form content expected");
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (IsPublicClientRequest(context, form))
        {
            await PublicClientTokenAsync(context, form);
            return;
        }

        if (!Authenticate(context, form, Settings.ClientId, Settings.ClientSecret))
        {
            await OAuthError(context, "invalid_client", "client authentication failed", StatusCodes.Status401Unauthorized);
            return;
        }

        switch (form["grant_type"].ToString())
        {
            case "client_credentials":
                Interlocked.Increment(ref _clientCredentialsGrants);
                await IssueAccessToken(context);
                return;
            case JwtBearerGrant:
                if (!ValidateIdJag(form["assertion"].ToString()))
                {
                    await OAuthError(context, "invalid_grant", "the assertion is not a valid ID-JAG for this server");
                    return;
                }

                Interlocked.Increment(ref _jwtBearerGrants);
                await IssueAccessToken(context);
                return;
            default:
                await OAuthError(context, "unsupported_grant_type", "use client_credentials or jwt-bearer");
                return;
        }
    }

    private Task IssueAccessToken(HttpContext context, string scope = "storm", string? refreshToken = null)
    {
        var token = EmbeddedServerSettings.RandomToken("at_");
        var now = _time.GetUtcNow();
        Classify(now);
        _tokens[token] = new IssuedToken(now, now + Settings.TokenLifetime, Revoked: false);
        Volatile.Write(ref _latestAccessToken, token);
        _issueTimestamps.Enqueue(_time.GetTimestamp());
        var body = new Dictionary<string, object>
        {
            ["access_token"] = token,
            ["token_type"] = "Bearer",
            ["expires_in"] = (long)Settings.TokenLifetime.TotalSeconds,
            ["scope"] = scope,
        };
        if (refreshToken is not null)
        {
            body["refresh_token"] = refreshToken;
        }

        return Json(context, body, noStore: true);
    }

    /// <summary>Whether <paramref name="accessToken"/> is one this server issued and is neither revoked nor expired.</summary>
    public bool IsActive(string accessToken) =>
        _tokens.TryGetValue(accessToken, out var issued) && !issued.Revoked && _time.GetUtcNow() < issued.ExpiresAt;

    // Why this token was needed: the first one, a replacement of a revoked one, a refresh while the previous token
    // was still usable (refresh-ahead: nobody waited), or a replacement after the previous one lapsed.
    private void Classify(DateTimeOffset now)
    {
        var previous = Volatile.Read(ref _latestAccessToken);
        if (previous is null || !_tokens.TryGetValue(previous, out var issued))
        {
            Interlocked.Increment(ref _initialIssues);
        }
        else if (issued.Revoked)
        {
            Interlocked.Increment(ref _afterRevocationIssues);
        }
        else if (now - issued.IssuedAt < EarliestRefresh(Settings.TokenLifetime))
        {
            Interlocked.Increment(ref _redundantIssues);
        }
        else if (now - issued.IssuedAt < UsableFor(Settings.TokenLifetime))
        {
            Interlocked.Increment(ref _aheadIssues);
        }
        else
        {
            Interlocked.Increment(ref _lapsedIssues);
        }
    }

    private static TimeSpan UsableFor(TimeSpan lifetime) => Storm.IdealExchanges.UsableFor(lifetime);

    // The refresh interval less a tolerance for the exchange's own round trip (the client dates its token from
    // before the request, the server from when it answers).
    private static TimeSpan EarliestRefresh(TimeSpan lifetime)
    {
        var interval = Storm.IdealExchanges.RefreshInterval(lifetime);
        var tolerance = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(250).Ticks, interval.Ticks / 4));
        return interval - tolerance;
    }

    // ---------------------------------------------------------------- identity provider (cross-app access)

    private async Task IdpTokenAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            await OAuthError(context, "invalid_request", "form content expected");
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (!Authenticate(context, form, Settings.IdpClientId, Settings.IdpClientSecret))
        {
            await OAuthError(context, "invalid_client", "client authentication failed", StatusCodes.Status401Unauthorized);
            return;
        }

        if (form["grant_type"] != TokenExchangeGrant)
        {
            await OAuthError(context, "unsupported_grant_type", "use token exchange");
            return;
        }

        if (form["requested_token_type"] != IdJagTokenType || form["subject_token_type"] != IdTokenType)
        {
            await OAuthError(context, "invalid_request", "requested_token_type must be id-jag and subject_token_type id_token");
            return;
        }

        if (!string.Equals(form["subject_token"], IdToken, StringComparison.Ordinal))
        {
            await OAuthError(context, "invalid_grant", "unknown subject token");
            return;
        }

        if (!string.Equals(form["audience"].ToString().TrimEnd('/'), Issuer, StringComparison.Ordinal))
        {
            await OAuthError(context, "invalid_target", "audience must be the authorization server's issuer");
            return;
        }

        Interlocked.Increment(ref _tokenExchanges);
        var jag = CreateIdJag(form["resource"].ToString());
        await Json(context, new Dictionary<string, object>
        {
            ["access_token"] = jag,
            ["issued_token_type"] = IdJagTokenType,
            ["token_type"] = "N_A",
            ["expires_in"] = 300,
        }, noStore: true);
    }

    // An HS256 JWT the authorization server can check: typ oauth-id-jag+jwt, aud = issuer, client_id, 5-minute expiry.
    private string CreateIdJag(string resource)
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "oauth-id-jag+jwt" });
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["iss"] = Issuer + "/idp",
            ["sub"] = "storm-user",
            ["aud"] = Issuer,
            ["client_id"] = Settings.ClientId,
            ["resource"] = resource,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["iat"] = now,
            ["exp"] = now + 300,
        });
        var signingInput = EmbeddedServerSettings.Base64Url(header) + "." + EmbeddedServerSettings.Base64Url(payload);
        var signature = HMACSHA256.HashData(_signingKey, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + EmbeddedServerSettings.Base64Url(signature);
    }

    private bool ValidateIdJag(string assertion)
    {
        var parts = assertion.Split('.');
        if (parts.Length != 3)
        {
            return false;
        }

        var expected = EmbeddedServerSettings.Base64Url(HMACSHA256.HashData(_signingKey, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1])));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(parts[2])))
        {
            return false;
        }

        try
        {
            var padded = parts[1].Replace('-', '+').Replace('_', '/');
            padded = padded.PadRight(padded.Length + ((4 - (padded.Length % 4)) % 4), '=');
            using var payload = JsonDocument.Parse(Convert.FromBase64String(padded));
            var root = payload.RootElement;
            return root.GetProperty("aud").GetString() == Issuer
                && root.GetProperty("client_id").GetString() == Settings.ClientId
                && root.GetProperty("exp").GetInt64() > _time.GetUtcNow().ToUnixTimeSeconds();
        }
        catch (Exception ex) when (ex is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    // ---------------------------------------------------------------- helpers

    private static bool Authenticate(HttpContext context, IFormCollection form, string clientId, string clientSecret)
    {
        string? id;
        string? secret;
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            }
            catch (FormatException)
            {
                return false;
            }

            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return false;
            }

            id = WebUtility.UrlDecode(decoded[..colon]);
            secret = WebUtility.UrlDecode(decoded[(colon + 1)..]);
        }
        else
        {
            id = form["client_id"];
            secret = form["client_secret"];
        }

        return string.Equals(id, clientId, StringComparison.Ordinal)
            && secret is not null
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(clientSecret));
    }

    private Task OAuthError(HttpContext context, string error, string description, int status = StatusCodes.Status400BadRequest)
    {
        Interlocked.Increment(ref _rejectedGrants);
        context.Response.StatusCode = status;
        return Json(context, new Dictionary<string, object> { ["error"] = error, ["error_description"] = description }, noStore: true);
    }

    private static Task Json(HttpContext context, Dictionary<string, object> body, bool noStore = false)
    {
        if (noStore)
        {
            context.Response.Headers.CacheControl = "no-store";
        }

        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }

    private sealed record IssuedToken(DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt, bool Revoked);
}

/// <summary>What the embedded servers counted.</summary>
internal readonly record struct EmbeddedServerCounters(
    long ClientCredentialsGrants,
    long JwtBearerGrants,
    long AuthorizationCodeGrants,
    long RefreshGrants,
    long TokenExchanges,
    long RejectedGrants,
    long ResourceOk,
    long Challenges,
    long RevokedRejections,
    long ExpiredRejections,
    long UnknownRejections,
    long Revocations,
    LoginCounters Login,
    IssueReasons IssueReasons)
{
    /// <summary>Access tokens issued by the authorization server.</summary>
    public long AccessTokensIssued => ClientCredentialsGrants + JwtBearerGrants + AuthorizationCodeGrants + RefreshGrants;

    /// <summary>All 401 responses of the protected resource.</summary>
    public long Unauthorized => Challenges + RevokedRejections + ExpiredRejections + UnknownRejections;
}

/// <summary>Why each access token was issued.</summary>
/// <param name="Initial">The first token (or the first after the server lost track of the previous one).</param>
/// <param name="Ahead">A refresh while the previous token was still usable: refresh-ahead, no caller had to wait.</param>
/// <param name="Lapsed">A replacement after the previous token was no longer usable (expiry minus skew): callers waited.</param>
/// <param name="AfterRevocation">A replacement of a revoked token.</param>
/// <param name="Redundant">A new token while the previous one was not yet due for refresh: a wasted exchange.</param>
internal sealed record IssueReasons(long Initial, long Ahead, long Lapsed, long AfterRevocation, long Redundant);
