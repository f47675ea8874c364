using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using LockFree.Auth.Testing.OAuth;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.OAuth;

/// <summary>
/// <see cref="SystemBrowserAuthorization"/> over real loopback sockets, with an <see cref="HttpClient"/> (not following
/// redirects) playing the browser. Every wait is bounded.
/// </summary>
public sealed class SystemBrowserAuthorizationTests
{
    private const string State = "state-1234567890";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static AuthorizationCallbackContext Context(string redirect = "http://127.0.0.1/callback", string? issuer = null, bool issuerRequired = false) => new()
    {
        AuthorizationUri = new Uri("https://as.example.com/authorize?response_type=code&client_id=c1&redirect_uri="
            + Uri.EscapeDataString(redirect) + "&code_challenge=abc&code_challenge_method=S256&state=" + State + "&scope=a%20b"),
        RedirectUri = new Uri(redirect),
        State = State,
        Issuer = issuer,
        IssuerRequired = issuerRequired,
    };

    private static HttpClient Browser() => new(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false }) { Timeout = Bound };

    /// <summary>The redirect_uri the launcher was asked to show (the listener's, with its port).</summary>
    private static Uri RedirectOf(Uri authorizationUri) =>
        new(Query(authorizationUri)["redirect_uri"]);

    private static Dictionary<string, string> Query(Uri uri) =>
        uri.Query.TrimStart('?').Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => Uri.UnescapeDataString(p[1]));

    private static async Task AssertClosedAsync(int port)
    {
        using var probe = new TcpClient();
        var ex = await Assert.ThrowsAnyAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, port).Within(Bound));
        Assert.Equal(SocketError.ConnectionRefused, ex.SocketErrorCode);
    }

    /// <summary>A launcher that records the URL and lets the test act as the user.</summary>
    private sealed class RecordingLauncher
    {
        private readonly TaskCompletionSource<Uri> _launched = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _launches;

        public int Launches => Volatile.Read(ref _launches);

        public Task<Uri> Launched => _launched.Task.Within(Bound);

        public Task LaunchAsync(Uri uri, CancellationToken ct)
        {
            Interlocked.Increment(ref _launches);
            _launched.TrySetResult(uri);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task AuthorizeAsync_RedirectWithState_ReturnsCodeShowsSuccessPageAndClosesListener()
    {
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });
        var authorize = handler.AuthorizeAsync(Context(), CancellationToken.None);

        var shown = await launcher.Launched.Within();
        var redirect = RedirectOf(shown);
        Assert.Equal("127.0.0.1", redirect.Host);
        Assert.NotEqual(80, redirect.Port);
        Assert.Equal("/callback", redirect.AbsolutePath);
        // Every other parameter of the authorization request is unchanged.
        Assert.Equal(Query(Context().AuthorizationUri).Remove("redirect_uri", out _), Query(shown).Remove("redirect_uri", out _));
        Assert.Equal(Query(Context().AuthorizationUri).Keys.Order(), Query(shown).Keys.Order());

        using var browser = Browser();
        using var page = await browser.GetAsync(new Uri(redirect, "?code=the-secret-code&state=" + State + "&iss=https%3A%2F%2Fas.example.com")).Within();
        var html = await page.Content.ReadAsStringAsync().Within();
        var result = await authorize.Within(Bound);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("data-outcome=\"success\"", html);
        Assert.DoesNotContain("the-secret-code", html);
        Assert.DoesNotContain(State, html);
        Assert.Equal("no-store", page.Headers.CacheControl?.ToString());
        Assert.Equal("the-secret-code", result!.Code);
        Assert.Equal(State, result.State);
        Assert.Equal("https://as.example.com", result.Iss);
        Assert.Equal(redirect, result.RedirectUri);
        Assert.Equal(1, launcher.Launches);
        Assert.Equal(0, handler.OpenListeners);
        await AssertClosedAsync(redirect.Port).Within();
    }

    [Fact]
    public async Task AuthorizeAsync_ForgedRedirectWithWrongState_RejectedThenRealOneSucceeds()
    {
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });
        var authorize = handler.AuthorizeAsync(Context(), CancellationToken.None);
        var redirect = RedirectOf(await launcher.Launched.Within());
        using var browser = Browser();

        using var forged = await browser.GetAsync(new Uri(redirect, "?code=forged-code&state=attacker-state")).Within();
        using var noState = await browser.GetAsync(new Uri(redirect, "?code=forged-code")).Within();
        using var forgedError = await browser.GetAsync(new Uri(redirect, "?error=access_denied&state=attacker-state")).Within();
        var forgedHtml = await forged.Content.ReadAsStringAsync().Within();

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, noState.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, forgedError.StatusCode);
        Assert.Contains("data-outcome=\"state-mismatch\"", forgedHtml);
        Assert.DoesNotContain("forged-code", forgedHtml);
        Assert.False(authorize.IsCompleted);
        Assert.Equal(1, handler.OpenListeners);

        using var real = await browser.GetAsync(new Uri(redirect, "?code=real-code&state=" + State)).Within();
        var result = await authorize.Within(Bound);
        Assert.Equal(HttpStatusCode.OK, real.StatusCode);
        Assert.Equal("real-code", result!.Code);
        await AssertClosedAsync(redirect.Port).Within();
    }

    [Fact]
    public async Task AuthorizeAsync_ErrorResponse_ReturnsSanitizedErrorAndEncodedPage()
    {
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });
        var authorize = handler.AuthorizeAsync(Context(), CancellationToken.None);
        var redirect = RedirectOf(await launcher.Launched.Within());
        using var browser = Browser();

        using var page = await browser.GetAsync(new Uri(redirect,
            "?error=access_denied&error_description=" + Uri.EscapeDataString("The user said <script>alert(1)</script> \"no\"\n") +
            "&error_uri=https%3A%2F%2Fas.example.com%2Fhelp&state=" + State)).Within();
        var html = await page.Content.ReadAsStringAsync().Within();
        var result = await authorize.Within(Bound);

        Assert.Contains("data-outcome=\"denied\"", html);
        Assert.DoesNotContain("<script>", html);
        Assert.Contains("&lt;script&gt;", html);
        Assert.Equal("access_denied", result!.Error);
        Assert.Equal("The user said <script>alert(1)</script> no", result.ErrorDescription); // quotes, newline removed
        Assert.Equal(new Uri("https://as.example.com/help"), result.ErrorUri);
        Assert.Null(result.Code);
        await AssertClosedAsync(redirect.Port).Within();
    }

    [Theory]
    [InlineData("https://evil.example.com", false)]
    [InlineData(null, true)]
    public async Task AuthorizeAsync_IssMismatchWithRightState_IssuerPageAndResultForTheProvider(string? iss, bool required)
    {
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });
        var authorize = handler.AuthorizeAsync(Context(issuer: "https://as.example.com", issuerRequired: required), CancellationToken.None);
        var redirect = RedirectOf(await launcher.Launched.Within());
        using var browser = Browser();

        using var page = await browser.GetAsync(new Uri(redirect, "?code=c&state=" + State + (iss is null ? "" : "&iss=" + Uri.EscapeDataString(iss)))).Within();
        var result = await authorize.Within(Bound);

        Assert.Equal(HttpStatusCode.BadRequest, page.StatusCode);
        Assert.Contains("data-outcome=\"issuer-mismatch\"", await page.Content.ReadAsStringAsync().Within());
        Assert.Equal(iss, result!.Iss);
    }

    [Fact]
    public async Task AuthorizeAsync_OtherPathMethodOrHost_AnsweredWithoutEndingTheAuthorization()
    {
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });
        var authorize = handler.AuthorizeAsync(Context(), CancellationToken.None);
        var redirect = RedirectOf(await launcher.Launched.Within());
        using var browser = Browser();

        using var favicon = await browser.GetAsync(new Uri(redirect, "/favicon.ico")).Within();
        using var post = await browser.PostAsync(new Uri(redirect, "?code=c&state=" + State), new StringContent("x")).Within();
        using var rebinding = new HttpRequestMessage(HttpMethod.Get, new Uri(redirect, "?code=c&state=" + State));
        rebinding.Headers.Host = "evil.example.com";
        using var rebound = await browser.SendAsync(rebinding).Within();

        Assert.Equal(HttpStatusCode.NotFound, favicon.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, rebound.StatusCode);
        Assert.False(authorize.IsCompleted);

        using var real = await browser.GetAsync(new Uri(redirect, "?code=c&state=" + State)).Within();
        Assert.Equal("c", (await authorize.Within(Bound))!.Code);
    }

    [Fact]
    public async Task AuthorizeAsync_NoRedirectBeforeTimeout_TypedTimeoutAndListenerClosed()
    {
        var time = new FakeTimeProvider();
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync, Timeout = TimeSpan.FromMinutes(2) }, timeProvider: time);
        var authorize = handler.AuthorizeAsync(Context(), CancellationToken.None);
        var redirect = RedirectOf(await launcher.Launched.Within());

        time.Advance(TimeSpan.FromSeconds(119));
        Assert.False(authorize.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        var ex = await Assert.ThrowsAsync<OAuthException>(() => authorize.Within(Bound));

        Assert.Equal(OAuthFailureReason.AuthorizationTimedOut, ex.Reason);
        Assert.Contains("120 s", ex.Message);
        Assert.Equal(0, handler.OpenListeners);
        await AssertClosedAsync(redirect.Port).Within();
    }

    [Fact]
    public async Task AuthorizeAsync_Cancelled_ListenerClosedAndCancellationSurfaces()
    {
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });
        using var cts = new CancellationTokenSource();
        var authorize = handler.AuthorizeAsync(Context(), cts.Token);
        var redirect = RedirectOf(await launcher.Launched.Within());

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => authorize.Within(Bound));
        Assert.Equal(0, handler.OpenListeners);
        await AssertClosedAsync(redirect.Port).Within();
    }

    [Theory]
    [InlineData("http://localhost/callback")]
    [InlineData("http://localhost:8765/callback")]
    [InlineData("https://127.0.0.1/callback")]
    [InlineData("http://10.1.2.3/callback")]
    [InlineData("myapp://callback")]
    public async Task AuthorizeAsync_NotALoopbackIpRedirect_RefusedBeforeListening(string redirect)
    {
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });

        var ex = await Assert.ThrowsAsync<OAuthException>(() => handler.AuthorizeAsync(Context(redirect), CancellationToken.None));

        Assert.Equal(OAuthFailureReason.InvalidInput, ex.Reason);
        Assert.Equal(0, launcher.Launches);
        Assert.Equal(0, handler.MaxOpenListeners);
    }

    [Fact]
    public async Task AuthorizeAsync_ConfiguredPort_ListensThereAndKeepsTheRequestAsIs()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });
        var context = Context($"http://127.0.0.1:{port}/cb/native");
        var authorize = handler.AuthorizeAsync(context, CancellationToken.None);

        var shown = await launcher.Launched.Within();
        Assert.Equal(context.AuthorizationUri, shown);
        using var browser = Browser();
        using var page = await browser.GetAsync($"http://127.0.0.1:{port}/cb/native?code=c&state={State}").Within();
        var result = await authorize.Within(Bound);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal(context.RedirectUri, result!.RedirectUri);
    }

    [Fact]
    public async Task AuthorizeAsync_ConfiguredPortInUse_UserAgentUnavailable()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });

        var ex = await Assert.ThrowsAsync<OAuthException>(() => handler.AuthorizeAsync(Context($"http://127.0.0.1:{port}/callback"), CancellationToken.None));

        Assert.Equal(OAuthFailureReason.UserAgentUnavailable, ex.Reason);
        Assert.Equal(0, launcher.Launches);
    }

    [Fact]
    public async Task AuthorizeAsync_LauncherFails_UserAgentUnavailableAndListenerClosed()
    {
        Uri? shown = null;
        var handler = new SystemBrowserAuthorization(new()
        {
            BrowserLauncher = (uri, _) => { shown = uri; throw new System.ComponentModel.Win32Exception(2, "xdg-open not found"); },
        });

        var ex = await Assert.ThrowsAsync<OAuthException>(() => handler.AuthorizeAsync(Context(), CancellationToken.None));

        Assert.Equal(OAuthFailureReason.UserAgentUnavailable, ex.Reason);
        Assert.Contains("PrintUrl", ex.Message);
        await AssertClosedAsync(RedirectOf(shown!).Port).Within();
    }

    [Fact]
    public async Task AuthorizeAsync_IPv6Literal_ListensOnIPv6Loopback()
    {
        if (!Socket.OSSupportsIPv6)
        {
            return;
        }

        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync });
        var authorize = handler.AuthorizeAsync(Context("http://[::1]/callback"), CancellationToken.None);
        var redirect = RedirectOf(await launcher.Launched.Within());

        Assert.Equal("[::1]", redirect.Host);
        using var browser = Browser();
        using var page = await browser.GetAsync(new Uri(redirect, "?code=c6&state=" + State)).Within();
        Assert.Equal("c6", (await authorize.Within(Bound))!.Code);
    }

    [Fact]
    public async Task AuthorizeAsync_ConcurrentAuthorizations_OneListenerAtATime()
    {
        var launches = new ConcurrentQueue<Uri>();
        var launched = new SemaphoreSlim(0);
        var handler = new SystemBrowserAuthorization(new()
        {
            BrowserLauncher = (uri, _) => { launches.Enqueue(uri); launched.Release(); return Task.CompletedTask; },
        });

        var first = handler.AuthorizeAsync(Context(), CancellationToken.None);
        var second = handler.AuthorizeAsync(Context(), CancellationToken.None);
        Assert.True(await launched.WaitAsync(Bound));
        Assert.False(await launched.WaitAsync(TimeSpan.FromMilliseconds(200))); // the second waits for the first
        Assert.Single(launches);

        using var browser = Browser();
        launches.TryDequeue(out var one);
        using (await browser.GetAsync(new Uri(RedirectOf(one!), "?code=one&state=" + State)).Within()) { }
        Assert.Equal("one", (await first.Within(Bound))!.Code);

        Assert.True(await launched.WaitAsync(Bound));
        launches.TryDequeue(out var two);
        using (await browser.GetAsync(new Uri(RedirectOf(two!), "?code=two&state=" + State)).Within()) { }
        Assert.Equal("two", (await second.Within(Bound))!.Code);
        Assert.Equal(1, handler.MaxOpenListeners);
    }

    [Fact]
    public async Task AuthorizeAsync_WaiterCancelledWhileQueued_NextStillWaitsForTheOpenListener()
    {
        var launches = new ConcurrentQueue<Uri>();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = (uri, _) => { launches.Enqueue(uri); return Task.CompletedTask; } });
        var first = handler.AuthorizeAsync(Context(), CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var queued = handler.AuthorizeAsync(Context(), cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.Within(Bound));
        var third = handler.AuthorizeAsync(Context(), CancellationToken.None);

        await Task.Delay(200);
        Assert.Single(launches);
        Assert.False(third.IsCompleted);
        launches.TryDequeue(out var one);
        using var browser = Browser();
        using (await browser.GetAsync(new Uri(RedirectOf(one!), "?code=one&state=" + State)).Within()) { }
        await first.Within(Bound);

        for (var i = 0; i < 100 && launches.IsEmpty; i++) { await Task.Delay(20); }
        launches.TryDequeue(out var three);
        using (await browser.GetAsync(new Uri(RedirectOf(three!), "?code=three&state=" + State)).Within()) { }
        Assert.Equal("three", (await third.Within(Bound))!.Code);
        Assert.Equal(1, handler.MaxOpenListeners);
    }

    [Fact]
    public async Task AuthorizeAsync_Logs_NeverContainTheCodeOrState()
    {
        using var sink = new ListLoggerFactory();
        var factory = sink;
        var launcher = new RecordingLauncher();
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = launcher.LaunchAsync }, factory);
        var authorize = handler.AuthorizeAsync(Context(), CancellationToken.None);
        var redirect = RedirectOf(await launcher.Launched.Within());
        using var browser = Browser();
        using (await browser.GetAsync(new Uri(redirect, "?code=wrong-code&state=wrong-state")).Within()) { }
        using (await browser.GetAsync(new Uri(redirect, "?code=log-secret-code&state=" + State)).Within()) { }
        await authorize.Within(Bound);

        var all = string.Join("\n", sink.Messages);
        Assert.Contains("Listening for the authorization redirect", all);
        Assert.Contains("state does not match", all);
        Assert.DoesNotContain("log-secret-code", all);
        Assert.DoesNotContain("wrong-code", all);
        Assert.DoesNotContain(State, all);
        Assert.DoesNotContain("code=", all);
    }

    [Fact]
    public async Task PrintUrl_WritesTheUrlOnItsOwnLine()
    {
        var writer = new StringWriter();
        await SystemBrowserAuthorization.PrintUrl(writer)(new Uri("https://as.example.com/authorize?a=1&b=2"), CancellationToken.None).Within();

        var lines = writer.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("https://as.example.com/authorize?a=1&b=2", lines[^1]);
    }

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("javascript:alert(1)")]
    public async Task OpenSystemBrowserAsync_NonHttpUrl_Refused(string url)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => SystemBrowserAuthorization.OpenSystemBrowserAsync(new Uri(url), CancellationToken.None));
    }

    [Fact]
    public void Constructor_NonPositiveTimeout_Refused()
    {
        Assert.Throws<ArgumentException>(() => new SystemBrowserAuthorization(new() { Timeout = TimeSpan.Zero }));
    }

    // ---------------------------------------------------------------- through ClientOAuthProvider

    /// <summary>A launcher that plays the user at the fake authorization server and follows its redirect to the listener.</summary>
    private static Func<Uri, CancellationToken, Task> FakeUser(OAuthTestHost host, Func<AuthorizationResult, string>? redirectQuery = null) => async (uri, ct) =>
    {
        var result = host.Server.Authorize(uri);
        var query = redirectQuery?.Invoke(result)
            ?? $"code={Uri.EscapeDataString(result.Code!)}&state={Uri.EscapeDataString(result.State!)}" + (result.Iss is { } iss ? "&iss=" + Uri.EscapeDataString(iss) : "");
        using var browser = Browser();
        using var page = await browser.GetAsync(new Uri(RedirectOf(uri), "?" + query), ct).Within();
    };

    [Fact]
    public async Task Provider_WithSystemBrowser_EphemeralPortNamedInBothRequests()
    {
        OAuthTestHost? self = null;
        var handler = new SystemBrowserAuthorization(new() { BrowserLauncher = (uri, ct) => FakeUser(self!)(uri, ct) });
        using var host = new OAuthTestHost(o =>
        {
            o.RedirectUri = new Uri("http://127.0.0.1/callback");
            o.AuthorizationCallbackHandler = handler.AuthorizeAsync;
        });
        self = host;

        using var response = await host.GetAsync().Within(Bound);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, host.Server.CodeGrants); // the fake requires the token request's redirect_uri = the authorization request's
        Assert.Equal(1, handler.MaxOpenListeners);
        Assert.Equal(0, handler.OpenListeners);
    }

    [Fact]
    public async Task Provider_ErrorResponseWithRightState_TypedErrorResponse()
    {
        OAuthTestHost? self = null;
        var handler = new SystemBrowserAuthorization(new()
        {
            BrowserLauncher = (uri, ct) => FakeUser(self!, r => $"error=access_denied&error_description=User+denied&error_uri=https%3A%2F%2Fauth.example.com%2Fwhy&state={r.State}&iss={Uri.EscapeDataString(r.Iss ?? "")}")(uri, ct),
        });
        using var host = new OAuthTestHost(o => { o.RedirectUri = new Uri("http://127.0.0.1/callback"); o.AuthorizationCallbackHandler = handler.AuthorizeAsync; },
            s => s.IssParameterSupported = true);
        self = host;

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync().Within(Bound));

        Assert.Equal(OAuthFailureReason.ErrorResponse, ex.Reason);
        Assert.Equal("access_denied", ex.Error);
        Assert.Equal("User denied", ex.ErrorDescription);
        Assert.Equal(new Uri("https://auth.example.com/why"), ex.ErrorUri);
        Assert.Equal(0, host.Server.CodeGrants);
    }

    [Fact]
    public async Task Provider_ErrorResultWithWrongState_RejectedAsStateMismatchNotAsTheError()
    {
        using var host = new OAuthTestHost();
        host.Prompt = (_, _) => Task.FromResult<AuthorizationResult?>(new AuthorizationResult { Error = "access_denied", State = "forged" });

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal(OAuthFailureReason.InvalidInput, ex.Reason);
        Assert.Contains("state", ex.Message);
        Assert.Null(ex.Error);
    }

    [Fact]
    public async Task Provider_ErrorResultFromACustomCallback_DescriptionSanitized()
    {
        using var host = new OAuthTestHost();
        host.Prompt = (context, _) => Task.FromResult<AuthorizationResult?>(new AuthorizationResult
        {
            Error = "server_error",
            ErrorDescription = "bad\r\nInjected: \"header\"",
            State = context.State,
        });

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal(OAuthFailureReason.ErrorResponse, ex.Reason);
        Assert.Equal("badInjected: header", ex.ErrorDescription);
        Assert.DoesNotContain("\n", ex.Message);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5555/other")]      // another path
    [InlineData("http://10.0.0.1:5555/callback")]    // another host
    [InlineData("https://127.0.0.1:5555/callback")]  // another scheme
    [InlineData("http://[::1]:5555/callback")]       // another loopback address
    public async Task Provider_ReportedRedirectUriChangingMoreThanThePort_Rejected(string reported)
    {
        using var host = new OAuthTestHost(o => o.RedirectUri = new Uri("http://127.0.0.1/callback"));
        host.Prompt = (context, _) =>
        {
            var r = host.Server.Authorize(context.AuthorizationUri);
            return Task.FromResult<AuthorizationResult?>(new AuthorizationResult { Code = r.Code, State = r.State, Iss = r.Iss, RedirectUri = new Uri(reported) });
        };

        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal(OAuthFailureReason.InvalidInput, ex.Reason);
        Assert.Contains("RFC 8252", ex.Message);
        Assert.Equal(0, host.Server.CodeGrants);
    }

    [Fact]
    public async Task Provider_ContextCarriesStateAndIssuer()
    {
        AuthorizationCallbackContext? seen = null;
        using var host = new OAuthTestHost(server: s => s.IssParameterSupported = true);
        host.Prompt = (context, _) => { seen = context; return Task.FromResult<AuthorizationResult?>(host.Server.Authorize(context.AuthorizationUri)); };

        using var response = await host.GetAsync().Within();

        Assert.Equal(Query(seen!.AuthorizationUri)["state"], seen.State);
        Assert.Equal(host.Server.Issuer, seen.Issuer);
        Assert.True(seen.IssuerRequired);
    }

    [Fact]
    public void FromRedirectUri_ReadsErrorFieldsSanitized()
    {
        var result = AuthorizationResult.FromRedirectUri(new Uri("http://127.0.0.1:1/cb?error=invalid_scope&error_description=Scope+%22x%22+unknown%0A&error_uri=not%20a%20uri&state=s"));

        Assert.Equal("invalid_scope", result.Error);
        Assert.Equal("Scope x unknown", result.ErrorDescription);
        Assert.Null(result.ErrorUri);
        Assert.Equal("s", result.State);
        Assert.Contains("invalid_scope", result.ToString());
    }

    private sealed class ListLoggerFactory : ILoggerFactory
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new ListLogger(Messages);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class ListLogger(ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                messages.Enqueue(formatter(state, exception));
        }
    }
}
