using System.Text;
using CsCheck;
using LockFree.Auth.Testing.OAuth;

namespace LockFree.Auth.Tests.OAuth;

/// <summary>Garbled protected-resource metadata and registration responses: a value or an <see cref="OAuthException"/>, nothing else.</summary>
public sealed class OAuthParserFuzzTests
{
    private static readonly Uri Source = new("https://mcp.example.com/.well-known/oauth-protected-resource/mcp");

    private static readonly string[] Keys = ["resource", "authorization_servers", "scopes_supported", "client_id", "client_secret", "token_endpoint_auth_method", "bearer_methods_supported"];

    private static readonly Gen<string> JsonValue = Gen.OneOf(
        Gen.OneOf(new[] { "null", "true", "0", "\"\"", "\"https://mcp.example.com/mcp\"", "\"not a uri\"", "\"ftp://x\"", "[]", "[\"https://as.example.com\"]",
            "[\"a\",1]", "{}", "\"\\uD800\"", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "\"client_secret_basic\"" }),
        Gen.String.Select(s => System.Text.Json.JsonSerializer.Serialize(s)));

    private static readonly Gen<byte[]> Bodies = Gen.OneOf(
        Gen.Select(Gen.Select(Gen.OneOf(Keys), JsonValue).Array[0, 6], Gen.Int[0, 120], (fields, cut) =>
        {
            var json = "{" + string.Join(",", fields.Select(f => $"\"{f.Item1}\":{f.Item2}")) + "}";
            return Encoding.UTF8.GetBytes(cut % 3 == 0 ? json[..Math.Min(cut, json.Length)] : json);
        }),
        Gen.Byte.Array[0, 128]);

    [Fact]
    public void ProtectedResourceMetadataParse_GarbledBodies_OnlyOAuthException()
    {
        Bodies.Sample(body =>
        {
            try
            {
                var prm = ProtectedResourceMetadata.Parse(body, Source);
                Assert.True(prm.Resource.IsAbsoluteUri);
                Assert.All(prm.AuthorizationServers, s => Assert.True(s.IsAbsoluteUri));
            }
            catch (OAuthException ex)
            {
                Assert.Equal(OAuthFailureReason.MalformedResponse, ex.Reason);
            }
        }, iter: 20_000);
    }

    [Fact]
    public void ParseRegistration_GarbledBodies_OnlyOAuthException()
    {
        Bodies.Sample(body =>
        {
            try
            {
                var registration = ClientRegistrationClient.ParseRegistration(body, Source, "none");
                Assert.False(string.IsNullOrEmpty(registration.ClientId));
            }
            catch (OAuthException ex)
            {
                Assert.Equal(OAuthFailureReason.MalformedResponse, ex.Reason);
            }
        }, iter: 20_000);
    }

    [Fact]
    public void ProtectedResourceMetadataParse_MissingResource_TypedError()
    {
        var ex = Assert.Throws<OAuthException>(() => ProtectedResourceMetadata.Parse("{\"authorization_servers\":[\"https://as\"]}"u8.ToArray(), Source));
        Assert.Contains("'resource'", ex.Message);
    }

    [Theory]
    [InlineData("https://mcp.example.com/mcp", "https://mcp.example.com/mcp", true)]
    [InlineData("https://mcp.example.com/mcp/", "https://mcp.example.com/mcp", true)]
    [InlineData("https://mcp.example.com", "https://mcp.example.com/mcp", true)]
    [InlineData("https://MCP.example.com/mcp", "https://mcp.example.com/mcp/sub", true)]
    [InlineData("https://mcp.example.com/mc", "https://mcp.example.com/mcp", false)]
    [InlineData("https://mcp.example.com/other", "https://mcp.example.com/mcp", false)]
    [InlineData("https://evil.example.com/mcp", "https://mcp.example.com/mcp", false)]
    [InlineData("http://mcp.example.com/mcp", "https://mcp.example.com/mcp", false)]
    [InlineData("https://mcp.example.com:8443/mcp", "https://mcp.example.com/mcp", false)]
    public void Covers_ResourceAgainstServerUrl_SameOriginAndPathPrefixOnly(string resource, string server, bool expected)
    {
        Assert.Equal(expected, ProtectedResourceMetadata.Covers(new Uri(resource), new Uri(server)));
    }

    [Fact]
    public void WellKnownLocations_PathSpecificBeforeRoot()
    {
        Assert.Equal(
            ["https://mcp.example.com/.well-known/oauth-protected-resource/mcp", "https://mcp.example.com/.well-known/oauth-protected-resource"],
            ProtectedResourceMetadata.WellKnownLocations(new Uri(FakeMcpAuthServer.ResourceUrl)).Select(u => u.ToString()));
        Assert.Equal(
            ["https://mcp.example.com/.well-known/oauth-protected-resource"],
            ProtectedResourceMetadata.WellKnownLocations(new Uri("https://mcp.example.com/")).Select(u => u.ToString()));
    }

    [Fact]
    public void Pkce_ChallengeS256_MatchesAnIndependentImplementation()
    {
        // Expected value computed with Python: base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b'=')
        Assert.Equal("89gmS-gbnyHl663zuMbzdvyDPZ6uWDWtHwMwH0t1uoE", Pkce.ChallengeS256("dBjftJeZ4CVP-mJ0kFCeuYR3x9b1etnMJ9k2vWAd4tw"));
        Assert.NotEqual(Pkce.CreateVerifier(), Pkce.CreateVerifier());
        Assert.Equal(43, Pkce.CreateVerifier().Length);
    }
}
