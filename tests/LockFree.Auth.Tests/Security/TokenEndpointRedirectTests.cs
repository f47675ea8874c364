using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Tests.Security;

/// <summary>
/// A token endpoint that redirects to another origin: the caller gets <see cref="OAuthFailureReason.RedirectRefused"/>
/// and the other origin receives no client secret, code, verifier, refresh token or assertion — with a client that
/// follows redirects (the default) and with one that does not.
/// </summary>
public sealed class TokenEndpointRedirectTests
{
    private static readonly object s_tokens = new { access_token = "at-from-b", token_type = "Bearer", expires_in = 3600 };

    [Theory]
    [MemberData(nameof(RedirectScenario.Matrix), MemberType = typeof(RedirectScenario))]
    public async Task ClientSecretPost_ClientCredentials_RedirectRefusedAndNoSecretReachesOtherOrigin(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        var request = Request(s, "client_secret_post", [new("grant_type", "client_credentials")]);

        var ex = await SendAsync(s, status, request);

        s.AssertRefused(ex, request.Endpoint, ("client secret", RedirectScenario.ClientSecret));
        AssertAReceived(s, RedirectScenario.ClientSecret);
    }

    [Theory]
    [MemberData(nameof(RedirectScenario.Matrix), MemberType = typeof(RedirectScenario))]
    public async Task ClientSecretBasic_ClientCredentials_RedirectRefusedAndNoAuthorizationReachesOtherOrigin(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        var request = Request(s, "client_secret_basic", [new("grant_type", "client_credentials")]);

        var ex = await SendAsync(s, status, request);

        s.AssertRefused(ex, request.Endpoint, ("client secret", RedirectScenario.ClientSecret));
        Assert.StartsWith("Basic ", Assert.Single(s.A.RequestsTo("/token")).Authorization, StringComparison.Ordinal);
        AssertAReceived(s, RedirectScenario.ClientSecret);
    }

    [Theory]
    [MemberData(nameof(RedirectScenario.Matrix), MemberType = typeof(RedirectScenario))]
    public async Task AuthorizationCodeGrant_RedirectRefusedAndNoCodeOrVerifierReachesOtherOrigin(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        var request = Request(s, "client_secret_post",
        [
            new("grant_type", "authorization_code"),
            new("code", RedirectScenario.Code),
            new("code_verifier", RedirectScenario.Verifier),
            new("redirect_uri", "http://127.0.0.1:7777/callback"),
        ]);

        var ex = await SendAsync(s, status, request);

        s.AssertRefused(ex, request.Endpoint, ("authorization code", RedirectScenario.Code), ("code verifier", RedirectScenario.Verifier), ("client secret", RedirectScenario.ClientSecret));
        AssertAReceived(s, RedirectScenario.Code);
    }

    [Theory]
    [MemberData(nameof(RedirectScenario.Matrix), MemberType = typeof(RedirectScenario))]
    public async Task RefreshTokenGrant_RedirectRefusedAndNoRefreshTokenReachesOtherOrigin(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        var request = Request(s, "client_secret_basic", [new("grant_type", "refresh_token"), new("refresh_token", RedirectScenario.RefreshToken)]);

        var ex = await SendAsync(s, status, request);

        s.AssertRefused(ex, request.Endpoint, ("refresh token", RedirectScenario.RefreshToken), ("client secret", RedirectScenario.ClientSecret));
        AssertAReceived(s, RedirectScenario.RefreshToken);
    }

    [Theory]
    [MemberData(nameof(RedirectScenario.Matrix), MemberType = typeof(RedirectScenario))]
    public async Task PrivateKeyJwt_RedirectRefusedAndNoAssertionReachesOtherOrigin(int status, bool autoRedirect)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        using var rsa = RSA.Create(2048);
        var request = new TokenRequest
        {
            Endpoint = s.A.Url("/token"),
            Parameters = [new("grant_type", "client_credentials")],
            Authentication = new PrivateKeyJwtAuthentication("client", new SigningCredentials(new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256), TimeSpan.FromMinutes(5)),
        };

        var ex = await SendAsync(s, status, request);

        var sent = Assert.Single(s.A.RequestsTo("/token"));
        var assertion = sent.Body.Split('&').Single(p => p.StartsWith("client_assertion=", StringComparison.Ordinal))["client_assertion=".Length..];
        Assert.True(assertion.Length > 100, "A received no client assertion: the test would prove nothing.");
        s.AssertRefused(ex, request.Endpoint, ("client assertion", assertion));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RedirectToSamePathOnOtherOrigin_TokenResponseOfOtherOriginNotUsed(bool autoRedirect)
    {
        // The other origin answers like a token endpoint: had the response been used, the call would have succeeded.
        await using var s = await RedirectScenario.StartAsync(autoRedirect);
        var request = Request(s, "none", [new("grant_type", "client_credentials")]);

        var ex = await SendAsync(s, 302, request);

        s.AssertRefused(ex, request.Endpoint);
        Assert.Equal(autoRedirect ? 1 : 0, s.B.RequestsTo("/token").Count);
    }

    private static TokenRequest Request(RedirectScenario s, string method, IReadOnlyList<KeyValuePair<string, string>> parameters) => new()
    {
        Endpoint = s.A.Url("/token"),
        Parameters = parameters,
        Authentication = ClientAuthentication.Create(method, "client", method == "none" ? null : RedirectScenario.ClientSecret),
        RequiredTokenType = "Bearer",
    };

    private static async Task<Exception?> SendAsync(RedirectScenario s, int status, TokenRequest request)
    {
        s.A.MapRedirect("/token", s.B.Url("/token"), status);
        s.B.MapJson("/token", s_tokens);
        var client = new TokenEndpointClient(s.BackChannel());
        return await Record.ExceptionAsync(() => client.RequestAsync(request, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>The secret was really sent to A (so its absence at B means something).</summary>
    private static void AssertAReceived(RedirectScenario s, string secret) =>
        Assert.Contains(secret, Assert.Single(s.A.RequestsTo("/token")).Searchable, StringComparison.Ordinal);
}
