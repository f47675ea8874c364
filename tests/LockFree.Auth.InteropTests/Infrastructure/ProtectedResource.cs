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
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(30) }; // a cold OpenIddict answers its first request slowly
    private readonly ConcurrentDictionary<string, byte> _rejected = new(StringComparer.Ordinal);
    private readonly JsonWebTokenHandler _handler = new();
    private volatile Task<IReadOnlyList<SecurityKey>>? _keys;
    private int _requests;
    private int _ok;
    private int _unauthorized;
    private int _forbidden;
    private int _useDPoPNonce;
    private volatile TaskCompletionSource? _gate;
    private int _gateRemaining;
    private int _dpopRequests;
    private readonly ConcurrentDictionary<string, byte> _proofIds = new(StringComparer.Ordinal);

    private ProtectedResource(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The resource URL (<c>http://127.0.0.1:port/mcp</c>): the RFC 8707 resource indicator and the tokens' audience.</summary>
    public Uri Url { get; }

    /// <summary>The <c>scope</c> of the 401 challenge.</summary>
    public string ChallengeScope { get; set; } = "mcp:read";

    /// <summary>When set, DPoP proofs must carry this nonce; others get <c>401 DPoP error="use_dpop_nonce"</c> with <c>DPoP-Nonce</c>.</summary>
    public string? DPoPNonce { get; set; }

    /// <summary>A pathological resource: it answers every proof with <c>use_dpop_nonce</c> and a new nonce.</summary>
    public bool NewNonceOnEveryChallenge { get; set; }

    /// <summary>How many <c>use_dpop_nonce</c> challenges the resource sent.</summary>
    public int UseDPoPNonceAnswers => Volatile.Read(ref _useDPoPNonce);

    /// <summary>How many requests carried a valid DPoP proof for a DPoP-bound token.</summary>
    public int DPoPRequests => Volatile.Read(ref _dpopRequests);

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

    /// <summary>Holds the next <paramref name="count"/> resource requests until all of them arrived (at most 10 s), then answers them together.</summary>
    public void HoldUntilArrivals(int count)
    {
        Volatile.Write(ref _gateRemaining, count);
        _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Makes the resource answer 401 to <paramref name="accessToken"/> from now on (as if revoked at the resource).</summary>
    public void Reject(string accessToken) => _rejected[accessToken] = 0;

    public void ResetCounters()
    {
        Interlocked.Exchange(ref _requests, 0);
        Interlocked.Exchange(ref _ok, 0);
        Interlocked.Exchange(ref _unauthorized, 0);
        Interlocked.Exchange(ref _forbidden, 0);
        if (Interlocked.Exchange(ref _gate, null) is { } gate)
        {
            gate.TrySetResult(); // a hold a failed test left behind
        }

        Interlocked.Exchange(ref _useDPoPNonce, 0);
        Interlocked.Exchange(ref _dpopRequests, 0);
        Accepted.Clear();
        ChallengeScope = "mcp:read";
        DPoPNonce = null;
        NewNonceOnEveryChallenge = false;
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
        if (_gate is { } gate)
        {
            if (Interlocked.Decrement(ref _gateRemaining) == 0)
            {
                _gate = null;
                gate.TrySetResult();
            }

            await gate.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }

        var header = context.Request.Headers.Authorization.ToString();
        var dpop = header.StartsWith("DPoP ", StringComparison.Ordinal);
        var token = header.StartsWith("Bearer ", StringComparison.Ordinal) || dpop ? header[(header.IndexOf(' ') + 1)..].Trim() : null;
        var jwt = token is null || _rejected.ContainsKey(token) ? null : await ValidateAsync(token);
        var jkt = jwt is null ? null : ConfirmationOf(jwt);
        if (jwt is not null && (jkt is not null) != dpop)
        {
            jwt = null; // RFC 9449 §7.2: a DPoP-bound token only with the DPoP scheme, a bearer token only with Bearer
        }

        if (jwt is not null && dpop)
        {
            switch (await CheckProofAsync(context, token!, jkt!))
            {
                case ProofCheck.UseNonce:
                    var count = Interlocked.Increment(ref _useDPoPNonce);
                    if (NewNonceOnEveryChallenge)
                    {
                        DPoPNonce = "rotating-nonce-" + count;
                    }

                    context.Response.StatusCode = 401;
                    context.Response.Headers.WWWAuthenticate = "DPoP error=\"use_dpop_nonce\", error_description=\"Resource server requires nonce in DPoP proof\", algs=\"ES256\"";
                    context.Response.Headers["DPoP-Nonce"] = DPoPNonce;
                    return;
                case ProofCheck.Invalid:
                    jwt = null;
                    break;
                default:
                    Interlocked.Increment(ref _dpopRequests);
                    break;
            }
        }

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

    private enum ProofCheck
    {
        Valid,
        Invalid,
        UseNonce,
    }

    /// <summary>The <c>cnf.jkt</c> of a DPoP-bound access token, if any.</summary>
    private static string? ConfirmationOf(JsonWebToken jwt)
    {
        using var payload = JsonDocument.Parse(Base64UrlEncoder.Decode(jwt.EncodedPayload));
        return payload.RootElement.TryGetProperty("cnf", out var cnf) && cnf.ValueKind == JsonValueKind.Object
            && cnf.TryGetProperty("jkt", out var jkt) ? jkt.GetString() : null;
    }

    /// <summary>RFC 9449 §4.3 and §7: one proof, typ dpop+jwt, signed by its embedded jwk whose thumbprint is the token's jkt; htm, htu, ath, fresh iat, unique jti, nonce.</summary>
    private async Task<ProofCheck> CheckProofAsync(HttpContext context, string accessToken, string jkt)
    {
        var proofs = context.Request.Headers["DPoP"];
        if (proofs.Count != 1)
        {
            return ProofCheck.Invalid;
        }

        try
        {
            var proof = new JsonWebToken(proofs[0]!);
            using var header = JsonDocument.Parse(Base64UrlEncoder.Decode(proof.EncodedHeader));
            using var payload = JsonDocument.Parse(Base64UrlEncoder.Decode(proof.EncodedPayload));
            var jwk = new JsonWebKey(header.RootElement.GetProperty("jwk").GetRawText());
            if (jwk.HasPrivateKey || proof.Typ != "dpop+jwt" || Base64UrlEncoder.Encode(jwk.ComputeJwkThumbprint()) != jkt)
            {
                return ProofCheck.Invalid;
            }

            var result = await _handler.ValidateTokenAsync(proofs[0]!, new TokenValidationParameters
            {
                IssuerSigningKey = jwk,
                ValidateIssuer = false,
                ValidateAudience = false,
                ValidateLifetime = false,
                RequireExpirationTime = false,
                ValidTypes = ["dpop+jwt"],
            });
            var claims = payload.RootElement;
            var requestUri = $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}{context.Request.Path}";
            var ath = Base64UrlEncoder.Encode(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(accessToken)));
            var iat = DateTimeOffset.FromUnixTimeSeconds(claims.GetProperty("iat").GetInt64());
            if (!result.IsValid
                || claims.GetProperty("htm").GetString() != context.Request.Method
                || claims.GetProperty("htu").GetString() != requestUri
                || claims.GetProperty("ath").GetString() != ath
                || (DateTimeOffset.UtcNow - iat).Duration() > TimeSpan.FromSeconds(60)
                || !_proofIds.TryAdd(claims.GetProperty("jti").GetString()!, 0))
            {
                return ProofCheck.Invalid;
            }

            var nonce = claims.TryGetProperty("nonce", out var n) ? n.GetString() : null;
            return NewNonceOnEveryChallenge || (DPoPNonce is not null && nonce != DPoPNonce) ? ProofCheck.UseNonce : ProofCheck.Valid;
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return ProofCheck.Invalid;
        }
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
