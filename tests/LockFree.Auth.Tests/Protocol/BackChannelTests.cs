using System.Net;
using System.Text;
using LockFree.Auth.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.Http;

/// <summary>The back channel in memory: endpoint rule, redirect refusal, the request-content guard, the deadline on a fake clock, options.</summary>
public sealed class BackChannelTests
{
    private const string Secret = "cs-SECRET-unit";
    private readonly FakeHttpHandler _handler = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    // ---------------------------------------------------------------- endpoint rule (every request)

    [Theory]
    [InlineData("http://as.example.com/token")]
    [InlineData("https://as.example.com/token#fragment")]
    [InlineData("https://user:cs-SECRET-unit@as.example.com/token")]
    [InlineData("ftp://as.example.com/token")]
    public async Task GetAndSend_UnusableEndpoint_InsecureEndpointAndNothingSent(string endpoint)
    {
        var backChannel = new BackChannel(_handler.CreateClient(), _time);
        using var post = OAuthHttp.CreateRequest(HttpMethod.Post, new Uri(endpoint));
        post.Content = new FormUrlEncodedContent([new("client_secret", Secret)]);

        var get = await Assert.ThrowsAsync<OAuthException>(() => backChannel.GetAsync(new Uri(endpoint), "metadata endpoint", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
        var send = await Assert.ThrowsAsync<OAuthException>(() => backChannel.SendAsync(post, "registration endpoint", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(OAuthFailureReason.InsecureEndpoint, get.Reason);
        Assert.Equal(OAuthFailureReason.InsecureEndpoint, send.Reason);
        Assert.DoesNotContain(Secret, get.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, send.Message, StringComparison.Ordinal);
        Assert.Equal(0, _handler.TotalRequests);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080/token")]
    [InlineData("http://localhost/token")]
    [InlineData("http://[::1]:9000/token")]
    public async Task Get_PlainHttpOnLoopback_Sent(string endpoint)
    {
        _handler.On(HttpMethod.Get, endpoint, _ => FakeResponses.Json("{}"));
        var backChannel = new BackChannel(_handler.CreateClient(), _time);

        var response = await backChannel.GetAsync(new Uri(endpoint), "metadata endpoint", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{}", Encoding.UTF8.GetString(response.Body));
    }

    [Fact]
    public async Task ProtectedResourceDiscovery_InsecureHint_InsecureEndpointAndNothingSent()
    {
        var backChannel = new BackChannel(_handler.CreateClient(), _time);

        var ex = await Assert.ThrowsAsync<OAuthException>(() => ProtectedResourceDiscovery.DiscoverAsync(
            backChannel, new Uri("https://mcp.example.com/mcp"), new Uri("http://prm.example.com/metadata"), null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
        Assert.Equal(0, _handler.TotalRequests);
    }

    // ---------------------------------------------------------------- redirects

    [Theory]
    [InlineData(300)]
    [InlineData(301)]
    [InlineData(302)]
    [InlineData(303)]
    [InlineData(304)]
    [InlineData(305)]
    [InlineData(307)]
    [InlineData(308)]
    [InlineData(399)]
    public async Task Send_AnyRedirectStatus_RedirectRefusedWithoutLocationInMessage(int status)
    {
        const string Endpoint = "https://as.example.com/token";
        _handler.On(HttpMethod.Post, Endpoint, _ =>
        {
            var response = new HttpResponseMessage((HttpStatusCode)status);
            response.Headers.Location = new Uri("https://elsewhere.example/" + Secret);
            return response;
        });
        var backChannel = new BackChannel(_handler.CreateClient(), _time);
        using var request = OAuthHttp.CreateRequest(HttpMethod.Post, new Uri(Endpoint));
        request.Content = new FormUrlEncodedContent([new("client_secret", Secret)]);

        var ex = await Assert.ThrowsAsync<OAuthException>(() => backChannel.SendAsync(request, "token endpoint", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(OAuthFailureReason.RedirectRefused, ex.Reason);
        Assert.Equal((HttpStatusCode)status, ex.StatusCode);
        Assert.Equal(new Uri(Endpoint), ex.Endpoint);
        Assert.Contains("token endpoint 'https://as.example.com/token'", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"HTTP {status}", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("elsewhere", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, ex.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, _handler.TotalRequests);
    }

    [Fact]
    public async Task Get_HandlerFollowedARedirect_RedirectRefusedAndBodyNotRead()
    {
        var content = new WatchedContent("""{"issuer":"https://elsewhere.example"}""");
        var backChannel = new BackChannel(new HttpClient(new StubHandler((request, _) =>
        {
            request.RequestUri = new Uri("https://elsewhere.example/metadata"); // what an auto-redirecting handler does
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = content, RequestMessage = request });
        })), _time);

        var ex = await Assert.ThrowsAsync<OAuthException>(() => backChannel.GetAsync(new Uri("https://as.example.com/.well-known/oauth-authorization-server"), "metadata endpoint", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(OAuthFailureReason.RedirectRefused, ex.Reason);
        Assert.Equal(new Uri("https://as.example.com/.well-known/oauth-authorization-server"), ex.Endpoint);
        Assert.DoesNotContain("elsewhere", ex.Message, StringComparison.Ordinal);
        Assert.False(content.Read);
    }

    [Fact]
    public async Task Get_ResponseOfAnotherRequestUri_RedirectRefused()
    {
        // A handler that follows redirects on a copy of the request: only the response tells.
        var backChannel = new BackChannel(new HttpClient(new StubHandler((_, _) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent("{}"),
                RequestMessage = new HttpRequestMessage(HttpMethod.Get, "https://elsewhere.example/metadata"),
            }))), _time);

        var ex = await Assert.ThrowsAsync<OAuthException>(() => backChannel.GetAsync(new Uri("https://as.example.com/m"), "metadata endpoint", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(OAuthFailureReason.RedirectRefused, ex.Reason);
    }

    [Fact]
    public async Task Send_HandlerResendsBodyToAnotherUri_RedirectRefusedAndNoByteWritten()
    {
        var written = new List<int>();
        var backChannel = new BackChannel(new HttpClient(new StubHandler(async (request, ct) =>
        {
            using (var first = new MemoryStream())
            {
                await request.Content!.CopyToAsync(first, ct); // the original request: allowed
                written.Add((int)first.Length);
            }

            request.RequestUri = new Uri("https://elsewhere.example/token"); // a 307 being followed
            using var second = new MemoryStream();
            try
            {
                await request.Content.CopyToAsync(second, ct);
            }
            finally
            {
                written.Add((int)second.Length);
            }

            return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request };
        })), _time);
        using var request = OAuthHttp.CreateRequest(HttpMethod.Post, new Uri("https://as.example.com/token"));
        request.Content = new FormUrlEncodedContent([new("client_secret", Secret)]);

        var ex = await Assert.ThrowsAsync<OAuthException>(() => backChannel.SendAsync(request, "token endpoint", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(OAuthFailureReason.RedirectRefused, ex.Reason);
        Assert.Equal([("client_secret=" + Secret).Length, 0], written);
        Assert.DoesNotContain(Secret, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SingleTargetContent_SameUriTwice_BothWrittenSoConnectionRetriesWork()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://as.example.com/token");
        using var original = new FormUrlEncodedContent([new("client_secret", Secret)]);
        original.Headers.ContentType!.CharSet = "utf-8";
        using var content = await SingleTargetContent.CreateAsync(request, request.RequestUri!, original, CancellationToken.None);
        request.Content = content;

        using var first = new MemoryStream();
        using var second = new MemoryStream();
        await content.CopyToAsync(first).WaitAsync(TimeSpan.FromSeconds(10));
        await content.CopyToAsync(second).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(first.ToArray(), second.ToArray());
        Assert.Equal("client_secret=" + Secret, Encoding.UTF8.GetString(first.ToArray()));
        Assert.Equal("application/x-www-form-urlencoded; charset=utf-8", content.Headers.ContentType!.ToString());
        Assert.Equal(first.Length, content.Headers.ContentLength);
        Assert.False(content.Refused);
        Assert.DoesNotContain(Secret, content.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SingleTargetContent_RequestUriChanged_ThrowsBeforeWritingAndSynchronousPathToo()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://as.example.com/token");
        using var original = new StringContent(Secret);
        using var content = await SingleTargetContent.CreateAsync(request, request.RequestUri!, original, CancellationToken.None);
        request.Content = content;
        request.RequestUri = new Uri("https://as.example.com/token?moved");

        using var target = new MemoryStream();
        await Assert.ThrowsAsync<HttpRequestException>(() => content.CopyToAsync(target).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Throws<HttpRequestException>(() => content.CopyTo(target, null, CancellationToken.None));

        Assert.Equal(0, target.Length);
        Assert.True(content.Refused);
    }

    // ---------------------------------------------------------------- deadline (fake clock: deterministic)

    [Fact]
    public async Task Deadline_HeadersNeverCome_CancelsExactlyAtTheDeadlineAsUnreachable()
    {
        var handler = new HangingHandler();
        var backChannel = new BackChannel(new HttpClient(handler), _time, OAuthHttp.DefaultMaxResponseBytes, TimeSpan.FromSeconds(30));

        var call = backChannel.GetAsync(new Uri("https://as.example.com/m"), "metadata endpoint", CancellationToken.None);
        var token = await handler.Entered.WaitAsync(TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        Assert.False(token.IsCancellationRequested);
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(token.IsCancellationRequested);

        var ex = await Assert.ThrowsAsync<OAuthException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(OAuthFailureReason.Unreachable, ex.Reason);
        Assert.Contains("deadline of 30 s (BackChannelTimeout)", ex.Message, StringComparison.Ordinal);
        Assert.Null(ex.StatusCode);
    }

    [Fact]
    public async Task Deadline_BodyNeverEnds_UnreachableWithTheStatusThatCame()
    {
        var body = new HangingStream();
        var backChannel = new BackChannel(new HttpClient(new StubHandler((request, _) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(body), RequestMessage = request }))), _time, OAuthHttp.DefaultMaxResponseBytes, TimeSpan.FromSeconds(5));
        using var request = OAuthHttp.CreateRequest(HttpMethod.Post, new Uri("https://as.example.com/token"));
        request.Content = new FormUrlEncodedContent([new("client_secret", Secret)]);

        var call = backChannel.SendAsync(request, "token endpoint", CancellationToken.None);
        await body.Reading.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(call.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(5));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(OAuthFailureReason.Unreachable, ex.Reason);
        Assert.Equal(HttpStatusCode.OK, ex.StatusCode);
        Assert.Contains("deadline", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deadline_CallerCancels_OperationCanceledNotUnreachable()
    {
        var handler = new HangingHandler();
        var backChannel = new BackChannel(new HttpClient(handler), _time);
        using var caller = new CancellationTokenSource();

        var call = backChannel.GetAsync(new Uri("https://as.example.com/m"), "metadata endpoint", caller.Token);
        await handler.Entered.WaitAsync(TimeSpan.FromSeconds(10));
        await caller.CancelAsync();

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(caller.Token, ex.CancellationToken);
    }

    [Fact]
    public async Task Deadline_TokenEndpointClientUsesTheBackChannelsDeadline()
    {
        var handler = new HangingHandler();
        var client = new TokenEndpointClient(new BackChannel(new HttpClient(handler), _time, OAuthHttp.DefaultMaxResponseBytes, TimeSpan.FromSeconds(2)));
        var request = new TokenRequest
        {
            Endpoint = new Uri("https://as.example.com/token"),
            Parameters = [new("grant_type", "client_credentials")],
            Authentication = ClientAuthentication.Create("client_secret_basic", "client", Secret),
        };

        var call = client.RequestAsync(request, CancellationToken.None);
        await handler.Entered.WaitAsync(TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(2));

        var ex = await Assert.ThrowsAsync<OAuthException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(OAuthFailureReason.Unreachable, ex.Reason);
    }

    // ---------------------------------------------------------------- construction and options

    public static TheoryData<TimeSpan> InvalidTimeouts() => new()
    {
        TimeSpan.Zero,
        TimeSpan.FromTicks(-1),
        Timeout.InfiniteTimeSpan,
        TimeSpan.FromMinutes(10) + TimeSpan.FromTicks(1),
        TimeSpan.MaxValue,
    };

    [Theory]
    [MemberData(nameof(InvalidTimeouts))]
    public void Constructor_InvalidTimeout_ArgumentOutOfRange(TimeSpan timeout) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackChannel(_handler.CreateClient(), _time, OAuthHttp.DefaultMaxResponseBytes, timeout));

    [Fact]
    public void Constructor_Defaults()
    {
        var backChannel = new BackChannel(_handler.CreateClient(), _time);

        Assert.Equal(TimeSpan.FromSeconds(30), backChannel.Timeout);
        Assert.Equal(OAuthHttp.DefaultMaxResponseBytes, backChannel.MaxResponseBytes);
        Assert.Same(_time, backChannel.TimeProvider);
        Assert.Equal(new ClientOAuthOptions().BackChannelTimeout, backChannel.Timeout);
        Assert.Equal(new CrossApplicationAccessProviderOptions().BackChannelTimeout, backChannel.Timeout);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackChannel(_handler.CreateClient(), _time, 0));
    }

    [Theory]
    [MemberData(nameof(InvalidTimeouts))]
    public void ClientOAuthOptions_InvalidBackChannelTimeout_ArgumentExceptionNamingIt(TimeSpan timeout)
    {
        var options = new ClientOAuthOptions { GrantType = OAuthGrantType.ClientCredentials, ClientId = "c", ClientSecret = Secret, BackChannelTimeout = timeout };

        var ex = Assert.ThrowsAny<ArgumentException>(() => new ClientOAuthProvider(new Uri("https://mcp.example.com/mcp"), options, _handler.CreateClient()));

        Assert.Equal("ClientOAuthOptions.BackChannelTimeout", ex.ParamName);
        Assert.Contains("BackChannelTimeout", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(InvalidTimeouts))]
    public void CrossAppOptions_InvalidBackChannelTimeout_ArgumentExceptionNamingIt(TimeSpan timeout)
    {
        var options = CrossAppOptions(timeout);

        var ex = Assert.ThrowsAny<ArgumentException>(() => new CrossApplicationAccessProvider(options, _handler.CreateClient()));

        Assert.Equal("CrossApplicationAccessProviderOptions.BackChannelTimeout", ex.ParamName);
        Assert.Contains("CrossApplicationAccessProviderOptions.BackChannelTimeout", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_TenMinutes_Accepted()
    {
        using var oauth = new ClientOAuthProvider(new Uri("https://mcp.example.com/mcp"), new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials, ClientId = "c", ClientSecret = Secret, BackChannelTimeout = TimeSpan.FromMinutes(10),
        }, _handler.CreateClient());
        using var crossApp = new CrossApplicationAccessProvider(CrossAppOptions(TimeSpan.FromMinutes(10)), _handler.CreateClient());

        Assert.NotNull(oauth);
        Assert.NotNull(crossApp);
    }

    [Fact]
    public void Response_ToString_ShowsLengthNotBody()
    {
        var text = new BackChannelResponse(HttpStatusCode.OK, Encoding.UTF8.GetBytes("{\"access_token\":\"" + Secret + "\"}")).ToString();

        Assert.Contains("200", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, text, StringComparison.Ordinal);
    }

    private static CrossApplicationAccessProviderOptions CrossAppOptions(TimeSpan timeout) => new()
    {
        ClientId = "c",
        IdpClientId = "idp",
        IdpTokenEndpoint = "https://idp.example.com/token",
        IdTokenCallback = (_, _) => Task.FromResult("id-token"),
        BackChannelTimeout = timeout,
    };

    private sealed class StubHandler(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> send) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => send(request, cancellationToken);
    }

    /// <summary>Never answers; tells the test the token it was given.</summary>
    private sealed class HangingHandler : HttpMessageHandler
    {
        private readonly TaskCompletionSource<CancellationToken> _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<CancellationToken> Entered => _entered.Task;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _entered.TrySetResult(cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }

    /// <summary>A body that never ends: reads wait for cancellation.</summary>
    private sealed class HangingStream : Stream
    {
        private readonly TaskCompletionSource _reading = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reading => _reading.Task;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _reading.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Content that records whether anyone read it.</summary>
    private sealed class WatchedContent(string text) : HttpContent
    {
        public bool Read { get; private set; }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            Read = true;
            return stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask();
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
