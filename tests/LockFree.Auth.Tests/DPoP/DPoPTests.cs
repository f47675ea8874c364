using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LockFree.Auth.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Tests.DPoP;

public sealed class DPoPTests
{
    private static readonly Uri s_tokenEndpoint = new("https://auth.example.com/token");

    [Fact]
    public async Task NonceCache_64ConcurrentAnswersWithTheSameNonce_OneUpdate()
    {
        var cache = new DPoPNonceCache();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var updates = Enumerable.Range(0, 64).Select(async i =>
        {
            await start.Task;
            return cache.Update(new Uri($"https://rs.example.com/mcp/{i}"), "nonce-1");
        }).ToArray();
        start.SetResult();
        var changed = await Task.WhenAll(updates).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1, changed.Count(c => c));
        Assert.Equal(1, cache.Updates);
        Assert.Equal("nonce-1", cache.Get(new Uri("https://RS.example.com/other")));
        Assert.Null(cache.Get(new Uri("https://rs.example.com:8443/mcp")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("quote\"d")]
    [InlineData(null)]
    public void NonceCache_UnusableNonce_Ignored(string? nonce)
    {
        var cache = new DPoPNonceCache();
        Assert.False(cache.Update(s_tokenEndpoint, nonce));
        Assert.False(cache.Update(s_tokenEndpoint, new string('n', DPoPNonceCache.MaxNonceLength + 1)));
        Assert.Equal(0, cache.Updates);
    }

    [Fact]
    public async Task Proof_ResourceRequest_HeaderAndClaimsPerRfc9449()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var key = DPoPKey.CreateEcP256();
        var proofs = new DPoPProofs(new InMemoryDPoPKeyStore(key), time);
        proofs.Nonces.Update(new Uri("https://rs.example.com"), "n-1");

        var text = await proofs.CreateAsync(HttpMethod.Post, new Uri("https://rs.example.com/mcp?x=1#f"), "the-access-token", default);

        var proof = new JsonWebToken(text);
        Assert.Equal("dpop+jwt", proof.Typ);
        Assert.Equal("ES256", proof.Alg);
        using var header = JsonDocument.Parse(Base64UrlEncoder.Decode(proof.EncodedHeader));
        var jwk = header.RootElement.GetProperty("jwk");
        Assert.False(jwk.TryGetProperty("d", out _)); // never the private key
        Assert.Equal(key.Thumbprint, Base64UrlEncoder.Encode(new JsonWebKey(jwk.GetRawText()).ComputeJwkThumbprint()));
        Assert.Equal("POST", proof.GetClaim("htm").Value);
        Assert.Equal("https://rs.example.com/mcp", proof.GetClaim("htu").Value);
        Assert.Equal(time.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), proof.GetClaim("iat").Value);
        Assert.Equal(Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes("the-access-token"))), proof.GetClaim("ath").Value);
        Assert.Equal("n-1", proof.GetClaim("nonce").Value);
        Assert.NotEqual(proof.Id, new JsonWebToken(await proofs.CreateAsync(HttpMethod.Post, new Uri("https://rs.example.com/mcp"), "the-access-token", default)).Id);
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(text, new TokenValidationParameters
        {
            IssuerSigningKey = new JsonWebKey(jwk.GetRawText()),
            ValidateIssuer = false,
            ValidateAudience = false,
            ValidateLifetime = false,
            RequireExpirationTime = false,
        });
        Assert.True(validation.IsValid);
    }

    [Fact]
    public void Key_ToString_NoKeyMaterial()
    {
        var key = DPoPKey.CreateEcP256();
        var text = key.ToString();
        Assert.Contains(key.Thumbprint, text);
        Assert.DoesNotContain(key.PublicJwk.X, text);
        Assert.Null(key.PublicJwk.D);
    }

    [Fact]
    public async Task TokenRequest_UseDPoPNonceEveryTime_RetriedOnceOnlyThenTheErrorSurfaces()
    {
        var handler = new FakeHttpHandler();
        var n = 0;
        handler.On(HttpMethod.Post, s_tokenEndpoint.ToString(), _ =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.BadRequest)
            {
                Content = new StringContent("{\"error\":\"use_dpop_nonce\",\"error_description\":\"nonce required\"}", Encoding.UTF8, "application/json"),
            };
            response.Headers.TryAddWithoutValidation("DPoP-Nonce", "nonce-" + Interlocked.Increment(ref n));
            return response;
        });
        var time = new FakeTimeProvider();
        var proofs = new DPoPProofs(new InMemoryDPoPKeyStore(), time);
        var client = new TokenEndpointClient(new BackChannel(handler.CreateClient(), time));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => client.RequestAsync(new TokenRequest
        {
            Endpoint = s_tokenEndpoint,
            Parameters = [new("grant_type", "client_credentials")],
            Authentication = ClientAuthentication.Create("client_secret_post", "c", "s"),
            RequiredTokenType = "Bearer",
            DPoP = proofs,
        }, default));

        Assert.Equal("use_dpop_nonce", ex.Error);
        Assert.Equal(2, handler.TotalRequests); // the first and one retry: no storm
        Assert.Equal("nonce-2", proofs.Nonces.Get(s_tokenEndpoint));
    }

    [Fact]
    public async Task TokenRequest_DPoPTokenType_AcceptedOnlyWhenDPoPIsOn()
    {
        var handler = new FakeHttpHandler();
        handler.On(HttpMethod.Post, s_tokenEndpoint.ToString(), _ => new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent("{\"access_token\":\"at\",\"token_type\":\"DPoP\",\"expires_in\":60}", Encoding.UTF8, "application/json"),
        });
        var time = new FakeTimeProvider();
        var client = new TokenEndpointClient(new BackChannel(handler.CreateClient(), time));
        TokenRequest Request(DPoPProofs? dpop) => new()
        {
            Endpoint = s_tokenEndpoint,
            Parameters = [new("grant_type", "client_credentials")],
            Authentication = ClientAuthentication.Create("client_secret_post", "c", "s"),
            RequiredTokenType = "Bearer",
            DPoP = dpop,
        };

        var withDPoP = await client.RequestAsync(Request(new DPoPProofs(new InMemoryDPoPKeyStore(), time)), default);
        var ex = await Assert.ThrowsAsync<OAuthException>(() => client.RequestAsync(Request(null), default));

        Assert.Equal("DPoP", withDPoP.Tokens.TokenType);
        Assert.Equal(OAuthFailureReason.UnexpectedTokenType, ex.Reason);
    }
}
