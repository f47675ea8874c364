using System.Net;
using System.Text;
using LockFree.Auth.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.Http;

public sealed class TokenEndpointClientTests
{
    private const string Endpoint = "https://as.example.com/token";
    private const string Secret = "client-secret-value";

    private readonly FakeHttpHandler _handler = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private TokenEndpointClient CreateClient(int maxBytes = OAuthHttp.DefaultMaxResponseBytes) => new(new BackChannel(_handler.CreateClient(), _time, maxBytes));

    private static TokenRequest Request(string method = "client_secret_post", string? requiredTokenType = "Bearer", string? requiredIssued = null, string endpoint = Endpoint) => new()
    {
        Endpoint = new Uri(endpoint),
        Parameters = [new("grant_type", "client_credentials"), new("scope", "read write")],
        Authentication = ClientAuthentication.Create(method, "client", method == "none" ? null : Secret),
        RequiredTokenType = requiredTokenType,
        RequiredIssuedTokenType = requiredIssued,
    };

    private void Respond(Func<HttpResponseMessage> response) => _handler.On(HttpMethod.Post, Endpoint, _ => response());

    [Fact]
    public void TokenRequest_ToString_ShowsParameterNamesNeverValues()
    {
        var request = Request() with
        {
            Parameters = [new("grant_type", "refresh_token"), new("refresh_token", "rt-SECRET"), new("code_verifier", "verifier-SECRET")],
        };

        var text = request.ToString();

        Assert.Contains("refresh_token", text, StringComparison.Ordinal);
        Assert.Contains("code_verifier", text, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestAsync_ValidResponse_ReturnsTokensWithObtainedAtFromTimeProvider()
    {
        Respond(() => FakeResponses.Json("""{"access_token":"at-1","token_type":"bearer","expires_in":3600,"refresh_token":"rt-1","scope":"read","id_token":"idt"}"""));

        var response = await CreateClient().RequestAsync(Request(), default);

        Assert.Equal("at-1", response.Tokens.AccessToken);
        Assert.Equal("bearer", response.Tokens.TokenType);
        Assert.Equal("rt-1", response.Tokens.RefreshToken);
        Assert.Equal("read", response.Tokens.Scope);
        Assert.Equal(TimeSpan.FromHours(1), response.Tokens.ExpiresIn);
        Assert.Equal(_time.GetUtcNow(), response.Tokens.ObtainedAt);
        Assert.Equal("idt", response.IdToken);
        Assert.DoesNotContain("idt", response.ToString());
        Assert.DoesNotContain("at-1", response.ToString());
    }

    [Fact]
    public async Task RequestAsync_Always_PostsFormWithGrantParametersAndAcceptJson()
    {
        Respond(() => FakeResponses.Json("""{"access_token":"at","token_type":"Bearer"}"""));

        await CreateClient().RequestAsync(Request(), default);

        var sent = Assert.Single(_handler.Requests);
        Assert.Equal(HttpMethod.Post, sent.Method);
        Assert.Equal("client_credentials", sent["grant_type"]);
        Assert.Equal("read write", sent["scope"]);
        Assert.Equal("client", sent["client_id"]);
        Assert.Equal(Secret, sent["client_secret"]);
    }

    [Fact]
    public async Task RequestAsync_ClientSecretBasic_SendsAuthorizationHeaderAndNoSecretInForm()
    {
        Respond(() => FakeResponses.Json("""{"access_token":"at","token_type":"Bearer"}"""));

        await CreateClient().RequestAsync(Request("client_secret_basic"), default);

        var sent = Assert.Single(_handler.Requests);
        Assert.StartsWith("Basic ", sent.Authorization);
        Assert.Null(sent["client_secret"]);
        Assert.Null(sent["client_id"]);
    }

    [Theory]
    [InlineData("\"3600\"", 3600)]
    [InlineData("0", 0)]
    [InlineData("60.0", 60)]
    public async Task RequestAsync_ExpiresInVariants_Parsed(string expiresIn, int seconds)
    {
        Respond(() => FakeResponses.Json($$"""{"access_token":"at","token_type":"Bearer","expires_in":{{expiresIn}}}"""));

        var response = await CreateClient().RequestAsync(Request(), default);

        Assert.Equal(TimeSpan.FromSeconds(seconds), response.Tokens.ExpiresIn);
    }

    [Theory]
    [InlineData("""{"token_type":"Bearer"}""", "access_token")]
    [InlineData("""{"access_token":"","token_type":"Bearer"}""", "access_token")]
    [InlineData("""{"access_token":"at"}""", "token_type")]
    [InlineData("""{"access_token":42,"token_type":"Bearer"}""", "access_token")]
    [InlineData("""{"access_token":"at","token_type":"Bearer","expires_in":-1}""", "expires_in")]
    [InlineData("""{"access_token":"at","token_type":"Bearer","expires_in":"soon"}""", "expires_in")]
    [InlineData("""{"access_token":"at","token_type":"Bearer","expires_in":1e300}""", "expires_in")]
    [InlineData("""{"access_token":"at","token_type":"Bearer","refresh_token":{}}""", "refresh_token")]
    [InlineData("""{"access_token":"at","token_type":"Bearer","scope":["a"]}""", "scope")]
    public async Task RequestAsync_MissingOrMistypedField_ThrowsMalformedNamingField(string json, string field)
    {
        Respond(() => FakeResponses.Json(json));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient().RequestAsync(Request(), default));

        Assert.Equal(OAuthFailureReason.MalformedResponse, ex.Reason);
        Assert.Contains($"'{field}'", ex.Message);
        Assert.DoesNotContain("\"at\"", ex.Message);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("[1,2,3]")]
    [InlineData("\"string\"")]
    [InlineData("{\"access_token\":")]
    [InlineData("")]
    public async Task RequestAsync_NotAJsonObject_ThrowsMalformed(string body)
    {
        Respond(() => FakeResponses.Raw(Encoding.UTF8.GetBytes(body)));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient().RequestAsync(Request(), default));

        Assert.Equal(OAuthFailureReason.MalformedResponse, ex.Reason);
        Assert.Equal(HttpStatusCode.OK, ex.StatusCode);
    }

    [Fact]
    public async Task RequestAsync_WrongTokenType_ThrowsUnexpectedTokenType()
    {
        Respond(() => FakeResponses.Json("""{"access_token":"at","token_type":"DPoP"}"""));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient().RequestAsync(Request(), default));

        Assert.Equal(OAuthFailureReason.UnexpectedTokenType, ex.Reason);
        Assert.Contains("DPoP", ex.Message);
    }

    [Theory]
    [InlineData("""{"access_token":"jag","token_type":"N_A"}""")]
    [InlineData("""{"access_token":"jag","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}""")]
    public async Task RequestAsync_WrongIssuedTokenType_ThrowsUnexpectedTokenType(string json)
    {
        Respond(() => FakeResponses.Json(json));

        var ex = await Assert.ThrowsAsync<OAuthException>(() =>
            CreateClient().RequestAsync(Request(requiredTokenType: null, requiredIssued: OAuthConstants.TokenTypeIdJag), default));

        Assert.Equal(OAuthFailureReason.UnexpectedTokenType, ex.Reason);
        Assert.DoesNotContain("jag\"", ex.Message);
    }

    [Fact]
    public async Task RequestAsync_IssuedTokenTypeMatches_ReturnsIt()
    {
        Respond(() => FakeResponses.Json("""{"access_token":"jag","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:id-jag"}"""));

        var response = await CreateClient().RequestAsync(Request(requiredTokenType: null, requiredIssued: OAuthConstants.TokenTypeIdJag), default);

        Assert.Equal(OAuthConstants.TokenTypeIdJag, response.IssuedTokenType);
        Assert.Equal("jag", response.Tokens.AccessToken);
    }

    [Fact]
    public async Task RequestAsync_OAuthErrorResponse_ThrowsWithAllFieldsAndNoSecrets()
    {
        Respond(() => FakeResponses.OAuthError("invalid_grant", "The assertion expired.", HttpStatusCode.BadRequest, "https://as.example.com/errors/1"));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient().RequestAsync(Request(), default));

        Assert.Equal(OAuthFailureReason.ErrorResponse, ex.Reason);
        Assert.Equal("invalid_grant", ex.Error);
        Assert.Equal("The assertion expired.", ex.ErrorDescription);
        Assert.Equal(new Uri("https://as.example.com/errors/1"), ex.ErrorUri);
        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal(new Uri(Endpoint), ex.Endpoint);
        Assert.Contains("invalid_grant", ex.Message);
        Assert.Contains("The assertion expired.", ex.Message);
        Assert.DoesNotContain(Secret, ex.Message);
    }

    [Fact]
    public async Task RequestAsync_ErrorDescriptionWithControlCharacters_IsSanitizedAndTruncated()
    {
        Respond(() => FakeResponses.OAuthError("invalid_request", "line1\r\nline2\"" + new string('x', 1000)));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient().RequestAsync(Request(), default));

        Assert.DoesNotContain("\n", ex.ErrorDescription);
        Assert.DoesNotContain("\"", ex.ErrorDescription);
        Assert.True(ex.ErrorDescription!.Length <= 260);
    }

    [Fact]
    public async Task RequestAsync_ErrorInSuccessBody_ThrowsErrorResponse()
    {
        Respond(() => FakeResponses.Json("""{"error":"invalid_client"}"""));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient().RequestAsync(Request(), default));

        Assert.Equal(OAuthFailureReason.ErrorResponse, ex.Reason);
        Assert.Equal("invalid_client", ex.Error);
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError, "<html>oops</html>")]
    [InlineData(HttpStatusCode.BadGateway, "")]
    [InlineData(HttpStatusCode.Unauthorized, "{\"error\":17}")]
    [InlineData(HttpStatusCode.Created, "{\"access_token\":\"at\",\"token_type\":\"Bearer\"}")]
    public async Task RequestAsync_NonSuccessWithoutOAuthError_ThrowsUnexpectedStatus(HttpStatusCode status, string body)
    {
        Respond(() => FakeResponses.Text(body, status));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient().RequestAsync(Request(), default));

        Assert.Equal(OAuthFailureReason.UnexpectedStatus, ex.Reason);
        Assert.Equal(status, ex.StatusCode);
        Assert.Null(ex.Error);
        Assert.Contains(((int)status).ToString(), ex.Message);
    }

    [Fact]
    public async Task RequestAsync_DeclaredContentLengthOverLimit_ThrowsResponseTooLarge()
    {
        Respond(() => FakeResponses.Json("""{"access_token":"at","token_type":"Bearer","pad":"" }""".Replace("\"\"", "\"" + new string('x', 2000) + "\"")));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient(maxBytes: 1000).RequestAsync(Request(), default));

        Assert.Equal(OAuthFailureReason.ResponseTooLarge, ex.Reason);
        Assert.Contains("1000", ex.Message);
    }

    [Fact]
    public async Task RequestAsync_StreamedBodyOverLimitWithoutContentLength_ThrowsResponseTooLarge()
    {
        Respond(() => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new UnknownLengthStream(5000)) });

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient(maxBytes: 1000).RequestAsync(Request(), default));

        Assert.Equal(OAuthFailureReason.ResponseTooLarge, ex.Reason);
    }

    [Fact]
    public async Task RequestAsync_PlainHttpOffLoopback_ThrowsInsecureEndpointWithoutSending()
    {
        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient().RequestAsync(Request(endpoint: "http://as.example.com/token"), default));

        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
        Assert.Contains("http://as.example.com/token", ex.Message);
        Assert.Equal(0, _handler.TotalRequests);
    }

    [Fact]
    public async Task RequestAsync_NetworkFailure_ThrowsUnreachable()
    {
        _handler.On(HttpMethod.Post, Endpoint, (_, _) => Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ConnectionError, "refused")));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => CreateClient().RequestAsync(Request(), default));

        Assert.Equal(OAuthFailureReason.Unreachable, ex.Reason);
        Assert.IsType<HttpRequestException>(ex.InnerException);
    }

    [Fact]
    public async Task RequestAsync_CallerCancels_ThrowsOperationCanceled()
    {
        var gate = _handler.Hold(Endpoint);
        Respond(() => FakeResponses.Json("""{"access_token":"at","token_type":"Bearer"}"""));
        using var cts = new CancellationTokenSource();

        var pending = CreateClient().RequestAsync(Request(), cts.Token);
        await gate.WaitForArrivalsAsync(1);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    private sealed class UnknownLengthStream(int length) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(count, length - _position);
            Array.Fill(buffer, (byte)'x', offset, n);
            _position += n;
            return n;
        }
    }
}
