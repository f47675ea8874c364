using System.Net;
using System.Text;
using CsCheck;

namespace LockFree.Auth.Tests.Http;

/// <summary>Garbled and adversarial bodies: the parsers may only return a value or throw <see cref="OAuthException"/>.</summary>
public sealed class ParserFuzzTests
{
    private static readonly Uri Endpoint = new("https://as.example.com/token");

    private static readonly string[] Keys =
        ["access_token", "token_type", "expires_in", "refresh_token", "scope", "issued_token_type", "id_token", "error", "error_description", "error_uri",
         "issuer", "token_endpoint", "authorization_endpoint", "scopes_supported", "token_endpoint_auth_methods_supported", "client_id_metadata_document_supported"];

    private static readonly Gen<string> JsonValue = Gen.OneOf(
        Gen.OneOf(new[] { "null", "true", "false", "0", "-1", "3600", "1e400", "-0.5", "\"\"", "\"Bearer\"", "\"N_A\"", "\"https://as.example.com\"",
            "\"urn:ietf:params:oauth:token-type:id-jag\"", "[]", "[\"a\",1]", "{}", "\"\\uD800\"", "\"\\u0000\"", "\"3600\"", "[[[[[[]]]]]]" }),
        Gen.String.Select(s => System.Text.Json.JsonSerializer.Serialize(s)),
        Gen.Long.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private static readonly Gen<byte[]> JsonLike =
        Gen.Select(Gen.Select(Gen.OneOf(Keys), JsonValue).Array[0, 8], Gen.Int[0, 3], Gen.Int[0, 200],
            (fields, mode, cut) =>
            {
                var json = "{" + string.Join(",", fields.Select(f => $"\"{f.Item1}\":{f.Item2}")) + "}";
                json = mode switch
                {
                    1 => json[..Math.Min(cut, json.Length)], // truncated
                    2 => json.Replace(':', cut % 2 == 0 ? ',' : ':').Replace("\"", cut % 3 == 0 ? "'" : "\""), // garbled punctuation
                    _ => json,
                };
                return Encoding.UTF8.GetBytes(json);
            });

    private static readonly Gen<byte[]> Bodies = Gen.OneOf(JsonLike, Gen.Byte.Array[0, 256]);

    private static void OnlyOAuthException(Action parse)
    {
        try
        {
            parse();
        }
        catch (OAuthException)
        {
            // The only acceptable failure.
        }
    }

    [Fact]
    public void TokenResponseParse_GarbledBodies_OnlyOAuthException()
    {
        var request = new TokenRequest
        {
            Endpoint = Endpoint,
            Parameters = [],
            Authentication = ClientAuthentication.Create("none", "client", null),
            RequiredTokenType = "Bearer",
        };
        var exchange = request with { RequiredTokenType = null, RequiredIssuedTokenType = OAuthConstants.TokenTypeIdJag };

        Bodies.Sample(body =>
        {
            OnlyOAuthException(() => TokenEndpointClient.Parse(body, request, DateTimeOffset.UnixEpoch));
            OnlyOAuthException(() => TokenEndpointClient.Parse(body, exchange, DateTimeOffset.UnixEpoch));
        }, iter: 3000, threads: 1);
    }

    [Fact]
    public void MetadataParse_GarbledBodies_OnlyOAuthException()
    {
        Bodies.Sample(body =>
            OnlyOAuthException(() => AuthorizationServerMetadata.Parse(body, new Uri("https://as.example.com"), Endpoint)),
            iter: 3000, threads: 1);
    }

    [Fact]
    public void ErrorFromResponse_GarbledBodies_NeverThrowsAndAlwaysClassifies()
    {
        Bodies.Sample(body =>
        {
            var ex = OAuthHttp.ErrorFromResponse(HttpStatusCode.BadRequest, body, Endpoint, "token endpoint");
            Assert.True(ex.Reason is OAuthFailureReason.ErrorResponse or OAuthFailureReason.UnexpectedStatus);
            Assert.Equal(ex.Reason == OAuthFailureReason.ErrorResponse, ex.Error is not null);
        }, iter: 3000, threads: 1);
    }

    [Fact]
    public void TokenResponseParse_SecretValues_NeverInMessage()
    {
        // A response that fails validation after the secrets were read: the message names fields, never values.
        var secret = "SECRET-" + Guid.NewGuid().ToString("N");
        var body = Encoding.UTF8.GetBytes($$"""{"access_token":"{{secret}}","token_type":"{{secret}}","refresh_token":"{{secret}}","expires_in":"{{secret}}"}""");
        var request = new TokenRequest { Endpoint = Endpoint, Parameters = [], Authentication = ClientAuthentication.Create("none", "client", null), RequiredTokenType = "Bearer" };

        var ex = Assert.Throws<OAuthException>(() => TokenEndpointClient.Parse(body, request, DateTimeOffset.UnixEpoch));

        Assert.DoesNotContain(secret, ex.Message);
    }
}
