using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LockFree.Auth.BrowserTests.Infrastructure;
using LockFree.Cli.Embedded;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using OpenQA.Selenium;
using Xunit.Abstractions;
using LockFree.Auth.OAuth;

namespace LockFree.Auth.BrowserTests;

/// <summary>
/// Sign-in in a real browser: headless Chromium opens the authorization URL that <see cref="SystemBrowserAuthorization"/>
/// hands its launcher, the test fills the embedded server's login form, and the browser is redirected to the loopback
/// listener. The MCP side is the official C# SDK client over <see cref="ClientOAuthHandler"/>. Every wait is bounded;
/// a failing test leaves <c>TestResults/browser/{test}-failure.png</c>.
/// </summary>
[Collection(ChromiumGroup.Name)]
public sealed class BrowserSignInTests(ChromiumFixture chromium, ITestOutputHelper output)
{
    private const int Concurrency = 64;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private IWebDriver Driver => chromium.Driver;

    /// <summary>One authorization server with a login page, one protected MCP server, one provider + handler.</summary>
    private sealed class Stack : IAsyncDisposable
    {
        private Stack(EmbeddedServer auth, McpResourceServer mcp, TestLauncher launcher, SystemBrowserAuthorization browser,
            HttpClient backChannel, ClientOAuthProvider provider, WireRecorder wire, HttpClient http)
        {
            Auth = auth;
            Mcp = mcp;
            Launcher = launcher;
            Browser = browser;
            BackChannel = backChannel;
            Provider = provider;
            Wire = wire;
            Http = http;
        }

        public EmbeddedServer Auth { get; }
        public McpResourceServer Mcp { get; }
        public TestLauncher Launcher { get; }
        public SystemBrowserAuthorization Browser { get; }
        public HttpClient BackChannel { get; }
        public ClientOAuthProvider Provider { get; }
        public WireRecorder Wire { get; }
        public HttpClient Http { get; }

        public static async Task<Stack> StartAsync(TimeSpan? signInTimeout = null)
        {
            var auth = await EmbeddedServer.StartAsync(new EmbeddedServerSettings { TokenLifetime = TimeSpan.FromMinutes(5) }, TimeProvider.System, CancellationToken.None);
            var mcp = await McpResourceServer.StartAsync(auth);
            var launcher = new TestLauncher();
            var browser = new SystemBrowserAuthorization(new SystemBrowserAuthorizationOptions
            {
                BrowserLauncher = launcher.LaunchAsync,
                Timeout = signInTimeout ?? TimeSpan.FromSeconds(60),
            });
            var backChannel = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = Bound };
            // The README's configuration, with a test launcher instead of the system browser.
            var provider = new ClientOAuthProvider(mcp.McpUrl, new ClientOAuthOptions
            {
                RedirectUri = new Uri("http://127.0.0.1/callback"),
                ClientMetadataDocumentUri = new Uri("https://app.example.com/client-metadata.json"), // not supported there: RFC 7591 instead
                DynamicClientRegistration = new() { ClientName = "LockFree.Auth browser test" },
                AuthorizationCallbackHandler = browser.AuthorizeAsync,
            }, backChannel);
            var wire = new WireRecorder(new SocketsHttpHandler());
            var http = new HttpClient(new ClientOAuthHandler(provider, wire)) { Timeout = Bound };
            return new Stack(auth, mcp, launcher, browser, backChannel, provider, wire, http);
        }

        public Task<McpClient> ConnectAsync() =>
            McpClient.CreateAsync(
                new HttpClientTransport(new HttpClientTransportOptions { Endpoint = Mcp.McpUrl, TransportMode = HttpTransportMode.StreamableHttp }, Http, ownsHttpClient: false),
                new McpClientOptions { ClientInfo = new() { Name = "lockfree-browser-test", Version = "1.0.0" }, InitializationTimeout = Bound });

        /// <summary>One raw MCP request (<c>tools/list</c> on the Streamable HTTP endpoint) through the handler.</summary>
        public Task<HttpResponseMessage> PostMcpAsync()
        {
            var request = new HttpRequestMessage(HttpMethod.Post, Mcp.McpUrl)
            {
                Content = new StringContent("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Accept.ParseAdd("application/json");
            request.Headers.Accept.ParseAdd("text/event-stream");
            return Http.SendAsync(request);
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            Provider.Dispose();
            BackChannel.Dispose();
            await Mcp.DisposeAsync();
            await Auth.DisposeAsync();
        }
    }

    private async Task RunAsync(string name, Func<Task> body)
    {
        try
        {
            await body();
        }
        catch
        {
            try
            {
                output.WriteLine("failure screenshot: " + Artifacts.Screenshot(Driver, name + "-failure"));
            }
            catch (WebDriverException)
            {
                // The browser itself failed: the original exception says more.
            }

            throw;
        }
        finally
        {
            if (Driver.WindowHandles.Count > 1 || Driver.CurrentWindowHandle != chromium.MainWindow)
            {
                foreach (var handle in Driver.WindowHandles.Where(h => h != chromium.MainWindow))
                {
                    Driver.SwitchTo().Window(handle).Close();
                }

                Driver.SwitchTo().Window(chromium.MainWindow);
            }
        }
    }

    private void Note(string line)
    {
        output.WriteLine(line);
        Artifacts.Record(line);
    }

    /// <summary>Fills the login form and submits it with <paramref name="button"/>; returns the Stopwatch timestamp of the click.</summary>
    private long SubmitLoginForm(string button, string? screenshot = null)
    {
        var user = chromium.WaitForId("username");
        Assert.True(Driver.FindElement(By.Id("scope-storm")).Selected);
        Assert.True(Driver.FindElement(By.Id("scope-offline_access")).Selected);
        user.SendKeys("alice");
        if (screenshot is not null)
        {
            Note("screenshot: " + Artifacts.Screenshot(Driver, screenshot));
        }

        var clicked = Stopwatch.GetTimestamp();
        Driver.FindElement(By.Id(button)).Click();
        return clicked;
    }

    private static async Task AssertPortClosedAsync(int port)
    {
        using var probe = new TcpClient();
        var ex = await Assert.ThrowsAnyAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Bound));
        Assert.Equal(SocketError.ConnectionRefused, ex.SocketErrorCode);
    }

    private static OAuthException? FindOAuth(Exception? ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is OAuthException oauth)
            {
                return oauth;
            }

            if (e is AggregateException { InnerExceptions.Count: > 0 } aggregate)
            {
                return aggregate.InnerExceptions.Select(FindOAuth).FirstOrDefault(o => o is not null);
            }
        }

        return null;
    }

    [Fact]
    public Task SignIn_64ConcurrentMcpClients_OneNavigationOneCodeExchangeAll200() => RunAsync(nameof(SignIn_64ConcurrentMcpClients_OneNavigationOneCodeExchangeAll200), async () =>
    {
        await using var stack = await Stack.StartAsync();
        var connecting = Enumerable.Range(0, Concurrency).Select(_ => stack.ConnectAsync()).ToArray();

        var authorizationUri = await stack.Launcher.FirstLaunch;
        Driver.Navigate().GoToUrl(authorizationUri);
        var submitted = SubmitLoginForm("allow", screenshot: "login-page");
        Assert.Equal("success", chromium.WaitForOutcome());
        Note("screenshot: " + Artifacts.Screenshot(Driver, "success-page"));
        var clients = await Task.WhenAll(connecting).WaitAsync(Bound);
        var firstOkMs = Stopwatch.GetElapsedTime(submitted, stack.Wire.FirstOk).TotalMilliseconds;
        var calls = await Task.WhenAll(clients.Select((c, i) => c.CallToolAsync("echo", new Dictionary<string, object?> { ["message"] = "m" + i }).AsTask())).WaitAsync(Bound);

        var counters = stack.Auth.Counters;
        Note($"64 concurrent MCP clients: {stack.Launcher.Launches} browser launch(es), {counters.Login.LoginPages} navigation(s) to the login page, " +
            $"{counters.AuthorizationCodeGrants} code exchange(s), {counters.Login.Registrations} registration(s), {clients.Length}/{Concurrency} clients connected; " +
            $"wire: {stack.Wire.Describe()}, {stack.Wire.Other} other; submit -> first 200: {firstOkMs:0} ms; max listeners open at once: {stack.Browser.MaxOpenListeners}");
        Assert.Equal(1, stack.Launcher.Launches);
        Assert.Equal(1, counters.Login.LoginPages);
        Assert.Equal(1, counters.Login.Consents);
        Assert.Equal(1, counters.AuthorizationCodeGrants);
        Assert.Equal(1, counters.Login.Registrations);
        // Requests that arrive once the sign-in started wait for it instead of collecting a 401 of their own.
        Assert.InRange(stack.Wire.Unauthorized, 1, Concurrency);
        Assert.True(stack.Wire.Ok("server/discover") + stack.Wire.Ok("initialize") >= Concurrency, stack.Wire.Describe());
        Assert.Equal(Concurrency, stack.Wire.Ok("tools/call"));
        Assert.Equal(0, stack.Wire.Other);
        Assert.All(calls.Select((r, i) => (r, i)), x => Assert.Equal("echo: m" + x.i, Assert.IsType<TextContentBlock>(Assert.Single(x.r.Content)).Text));
        Assert.Equal(1, stack.Browser.MaxOpenListeners);
        Assert.Equal(0, stack.Browser.OpenListeners);
        Assert.InRange(firstOkMs, 0, 10_000);
        await AssertPortClosedAsync(TestLauncher.RedirectOf(authorizationUri).Port);
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
    });

    [Fact]
    public Task Deny_EveryWaiterGetsTheTypedErrorAndNoListenerStaysOpen() => RunAsync(nameof(Deny_EveryWaiterGetsTheTypedErrorAndNoListenerStaysOpen), async () =>
    {
        await using var stack = await Stack.StartAsync();
        var connecting = Enumerable.Range(0, Concurrency).Select(_ => stack.ConnectAsync()).ToArray();

        var authorizationUri = await stack.Launcher.FirstLaunch;
        Driver.Navigate().GoToUrl(authorizationUri);
        var submitted = SubmitLoginForm("deny");
        Assert.Equal("denied", chromium.WaitForOutcome());
        Note("screenshot: " + Artifacts.Screenshot(Driver, "denied-page"));
        await Task.WhenAny(Task.WhenAll(connecting), Task.Delay(Bound));
        var deniedMs = Stopwatch.GetElapsedTime(submitted).TotalMilliseconds;

        var errors = connecting.Select(t => t.IsFaulted ? FindOAuth(t.Exception) : null).ToArray();
        Note($"deny: {errors.Count(e => e is { Reason: OAuthFailureReason.ErrorResponse, Error: "access_denied" })}/{Concurrency} waiters got OAuthException(ErrorResponse, access_denied) within {deniedMs:0} ms of the click; " +
            $"{stack.Auth.Counters.AuthorizationCodeGrants} code exchanges; listeners open: {stack.Browser.OpenListeners}");
        Assert.All(errors, e =>
        {
            Assert.NotNull(e);
            Assert.Equal(OAuthFailureReason.ErrorResponse, e.Reason);
            Assert.Equal("access_denied", e.Error);
            Assert.Equal("The user denied the request", e.ErrorDescription);
        });
        Assert.Equal(0, stack.Auth.Counters.AuthorizationCodeGrants);
        Assert.Equal(1, stack.Launcher.Launches);
        Assert.Equal(0, stack.Browser.OpenListeners);
        await AssertPortClosedAsync(TestLauncher.RedirectOf(authorizationUri).Port);
    });

    [Fact]
    public Task TabClosed_EveryWaiterTimesOutWithTheTypedErrorWithinTheTimeout() => RunAsync(nameof(TabClosed_EveryWaiterTimesOutWithTheTypedErrorWithinTheTimeout), async () =>
    {
        var timeout = TimeSpan.FromSeconds(3);
        await using var stack = await Stack.StartAsync(timeout);
        var requests = Enumerable.Range(0, 16).Select(_ => stack.PostMcpAsync()).ToArray();

        var authorizationUri = await stack.Launcher.FirstLaunch;
        var launched = Stopwatch.GetTimestamp();
        Driver.SwitchTo().NewWindow(WindowType.Tab);
        Driver.Navigate().GoToUrl(authorizationUri);
        chromium.WaitForId("username");
        Driver.Close(); // the user closes the tab without answering
        Driver.SwitchTo().Window(chromium.MainWindow);
        await Task.WhenAny(Task.WhenAll(requests), Task.Delay(Bound));
        var elapsed = Stopwatch.GetElapsedTime(launched);

        var errors = requests.Select(t => t.IsFaulted ? FindOAuth(t.Exception) : null).ToArray();
        Note($"tab closed: {errors.Count(e => e?.Reason == OAuthFailureReason.AuthorizationTimedOut)}/{requests.Length} waiters got OAuthException(AuthorizationTimedOut) " +
            $"{elapsed.TotalMilliseconds:0} ms after the launch (timeout {timeout.TotalMilliseconds:0} ms); listeners open: {stack.Browser.OpenListeners}");
        Assert.All(errors, e => Assert.Equal(OAuthFailureReason.AuthorizationTimedOut, e?.Reason));
        Assert.InRange(elapsed, timeout - TimeSpan.FromMilliseconds(200), timeout + TimeSpan.FromSeconds(3));
        Assert.Equal(0, stack.Browser.OpenListeners);
        await AssertPortClosedAsync(TestLauncher.RedirectOf(authorizationUri).Port);
    });

    [Fact]
    public Task ForgedRedirect_WrongStateRejected_ListenerKeepsWaiting_RealSignInSucceeds() => RunAsync(nameof(ForgedRedirect_WrongStateRejected_ListenerKeepsWaiting_RealSignInSucceeds), async () =>
    {
        await using var stack = await Stack.StartAsync();
        var requests = Enumerable.Range(0, 8).Select(_ => stack.PostMcpAsync()).ToArray();
        var authorizationUri = await stack.Launcher.FirstLaunch;
        var redirect = TestLauncher.RedirectOf(authorizationUri);

        // An attacker's page sends the browser to the listener with its own code and state.
        Driver.Navigate().GoToUrl(new Uri(redirect, "?code=attacker-code&state=attacker-state&iss=" + Uri.EscapeDataString(stack.Auth.Issuer)));
        Assert.Equal("state-mismatch", chromium.WaitForOutcome());
        Assert.DoesNotContain("attacker-code", Driver.PageSource);
        Note("screenshot: " + Artifacts.Screenshot(Driver, "forged-state-page"));
        Assert.All(requests, r => Assert.False(r.IsCompleted));
        Assert.Equal(1, stack.Browser.OpenListeners);

        Driver.Navigate().GoToUrl(authorizationUri);
        var submitted = SubmitLoginForm("allow");
        Assert.Equal("success", chromium.WaitForOutcome());
        var responses = await Task.WhenAll(requests).WaitAsync(Bound);
        var firstOkMs = Stopwatch.GetElapsedTime(submitted, stack.Wire.FirstOk).TotalMilliseconds;

        Note($"forged redirect: rejected with HTTP 400 (state-mismatch page), listener kept waiting; then the real sign-in: {responses.Count(r => r.StatusCode == HttpStatusCode.OK)}/{responses.Length} x 200, " +
            $"{stack.Auth.Counters.AuthorizationCodeGrants} code exchange(s), submit -> first 200: {firstOkMs:0} ms");
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, stack.Auth.Counters.AuthorizationCodeGrants);
        Assert.Equal(1, stack.Launcher.Launches);
        await AssertPortClosedAsync(redirect.Port);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    });
}
