using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Tests.OAuth;

public sealed class PrivateKeyJwtAuthenticationTests
{
    private static readonly Uri s_tokenEndpoint = new("https://auth.example.com/token");
    private static readonly Uri s_issuer = new("https://auth.example.com");

    [Fact]
    public void CreateAssertion_Default_TypIsClientAuthenticationJwt()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var auth = new PrivateKeyJwtAuthentication("client-1", new SigningCredentials(new ECDsaSecurityKey(ecdsa) { KeyId = "k1" }, SecurityAlgorithms.EcdsaSha256), TimeSpan.FromMinutes(5));

        var jwt = new JsonWebToken(auth.CreateAssertion(new ClientAuthenticationContext(s_tokenEndpoint, s_issuer, new FakeTimeProvider())));

        Assert.Equal("client-authentication+jwt", jwt.Typ);
        Assert.Equal("ES256", jwt.Alg);
        Assert.Equal("k1", jwt.Kid);
        Assert.Equal("client-1", jwt.Issuer);
        Assert.Equal("client-1", jwt.Subject);
        Assert.Equal("https://auth.example.com", Assert.Single(jwt.Audiences));
    }

    [Fact]
    public void CreateAssertion_JwtConfigured_TypIsJwt()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var auth = new PrivateKeyJwtAuthentication("client-1", new SigningCredentials(new ECDsaSecurityKey(ecdsa), SecurityAlgorithms.EcdsaSha256), TimeSpan.FromMinutes(5), ClientAssertionJwtTypes.Jwt);

        var jwt = new JsonWebToken(auth.CreateAssertion(new ClientAuthenticationContext(s_tokenEndpoint, null, new FakeTimeProvider())));

        Assert.Equal("JWT", jwt.Typ);
        Assert.Equal(s_tokenEndpoint.ToString(), Assert.Single(jwt.Audiences));
    }

    [Fact]
    public async Task Provider_ClientAssertionJwtTypeOption_SentInTheHeader()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string? typ = null;
        using var host = new OAuthTestHost(
            o =>
            {
                o.GrantType = OAuthGrantType.ClientCredentials;
                o.ClientId = "jwt-client";
                o.ClientAssertionSigningCredentials = new SigningCredentials(new ECDsaSecurityKey(ecdsa), SecurityAlgorithms.EcdsaSha256);
                o.ClientAssertionJwtType = ClientAssertionJwtTypes.Jwt;
            },
            s => s.AuthMethodsSupported = ["private_key_jwt"]);
        host.Server.AssertionValidator = assertion =>
        {
            typ = new JsonWebToken(assertion).Typ;
            return "jwt-client";
        };

        using var response = await host.GetAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("JWT", typ);
    }

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("quote\"d")]
    public void Constructor_UnusableClientAssertionJwtType_ArgumentExceptionNamingTheOption(string type)
    {
        using var http = new HttpClient();
        var options = new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = "c",
            ClientSecret = "s",
            ClientAssertionJwtType = type,
        };

        var ex = Assert.Throws<ArgumentException>(() => new ClientOAuthProvider(new Uri("https://mcp.example.com/mcp"), options, http));

        Assert.Contains(nameof(ClientOAuthOptions.ClientAssertionJwtType), ex.Message);
    }
}
