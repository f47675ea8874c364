using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace LockFree.Cli.Tests;

/// <summary>
/// <c>lockfree login --no-browser</c> driven by a test playing the user with an <see cref="HttpClient"/>: it reads the
/// printed URL, fills the embedded server's login form and follows the redirect to the CLI's loopback listener.
/// (The same flow in a real browser: tests/LockFree.Auth.BrowserTests.)
/// </summary>
[Collection(StormTestGroup.Name)]
public sealed partial class LoginCommandTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>A writer the CLI writes to while the test reads it; completes <see cref="Url"/> at the first URL line.</summary>
    private sealed class WatchedWriter : TextWriter
    {
        private readonly StringBuilder _text = new();
        private readonly TaskCompletionSource<Uri> _url = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly object _gate = new();

        public override Encoding Encoding => Encoding.UTF8;

        public Task<Uri> Url => _url.Task.WaitAsync(Bound);

        public override void Write(char value)
        {
            lock (_gate)
            {
                _text.Append(value);
                if (value == '\n')
                {
                    var lines = _text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                    var last = lines[^1].Trim();
                    if (last.StartsWith("http://", StringComparison.Ordinal))
                    {
                        _url.TrySetResult(new Uri(last));
                    }
                }
            }
        }

        public override string ToString()
        {
            lock (_gate)
            {
                return _text.ToString();
            }
        }
    }

    private static (Task<int> Exit, WatchedWriter Out, WatchedWriter Error) Start(params string[] args)
    {
        var stdout = new WatchedWriter();
        var stderr = new WatchedWriter();
        var env = new Dictionary<string, string> { ["CI"] = "true" };
        var app = new CliApp(new CliEnvironment(stdout, stderr, name => env.GetValueOrDefault(name), OutputIsTerminal: false));
        return (Task.Run(() => app.InvokeAsync(args, CancellationToken.None)), stdout, stderr);
    }

    [GeneratedRegex("name=\"request_id\" value=\"([^\"]+)\"")]
    private static partial Regex RequestId();

    /// <summary>Plays the user: opens the URL, submits the form with <paramref name="action"/>, follows the redirect.</summary>
    private static async Task<(HttpResponseMessage Callback, string LoginPage)> ActAsUserAsync(Uri url, string action)
    {
        using var browser = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false }) { Timeout = Bound };
        var page = await browser.GetStringAsync(url);
        var requestId = RequestId().Match(page).Groups[1].Value;
        using var form = new FormUrlEncodedContent(
        [
            new("request_id", WebUtility.HtmlDecode(requestId)), new("username", "alice"), new("scope", "storm"), new("scope", "offline_access"), new("action", action),
        ]);
        using var submitted = await browser.PostAsync(new Uri(url, "/authorize"), form);
        Assert.Equal(HttpStatusCode.Found, submitted.StatusCode);
        var location = submitted.Headers.Location!;
        Assert.Equal("127.0.0.1", location.Host);
        return (await browser.GetAsync(location), page);
    }

    [Fact]
    public async Task Login_NoBrowser_PrintsTheUrl_UserSignsIn_StormRunsOnTheToken()
    {
        var (exit, stdout, stderr) = Start("login", "--no-browser", "--json", "-c", "8", "-d", "2s", "--revoke-every", "700ms");

        var url = await stderr.Url;
        var (callback, loginPage) = await ActAsUserAsync(url, "allow");
        using var _ = callback;
        var code = await exit.WaitAsync(Bound);

        Assert.Contains("id=\"username\"", loginPage);
        Assert.Contains("id=\"scope-storm\"", loginPage);
        Assert.Contains("id=\"deny\"", loginPage);
        Assert.Equal(HttpStatusCode.OK, callback.StatusCode);
        Assert.Contains("data-outcome=\"success\"", await callback.Content.ReadAsStringAsync());
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        using var json = System.Text.Json.JsonDocument.Parse(stdout.ToString());
        var login = json.RootElement.GetProperty("login");
        Assert.Equal(1, login.GetProperty("loginPages").GetInt64());
        Assert.Equal(1, login.GetProperty("codeExchanges").GetInt64());
        Assert.True(login.GetProperty("refreshToken").GetBoolean());
        Assert.Contains("offline_access", login.GetProperty("scope").GetString());
        Assert.True(login.GetProperty("refreshExchanges").GetInt64() >= 1, stdout.ToString()); // revocations -> refresh-token grants
        Assert.True(json.RootElement.GetProperty("passed").GetBoolean(), stdout.ToString());
        Assert.Equal(0, json.RootElement.GetProperty("requests").GetProperty("failed").GetInt64());
        Assert.Contains("127.0.0.1", url.Host);
        Assert.Contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A", url.Query);
    }

    [Fact]
    public async Task Login_UserDenies_TypedErrorAndExitCode1()
    {
        var (exit, stdout, stderr) = Start("login", "--no-browser", "-c", "2", "-d", "1s");

        var (callback, _) = await ActAsUserAsync(await stderr.Url, "deny");
        using var _1 = callback;
        var code = await exit.WaitAsync(Bound);

        Assert.Contains("data-outcome=\"denied\"", await callback.Content.ReadAsStringAsync());
        Assert.Equal(1, code);
        Assert.Contains("lockfree login: the sign-in failed (ErrorResponse: access_denied)", stderr.ToString());
        Assert.DoesNotContain("summary", stdout.ToString());
    }

    [Fact]
    public async Task Login_NobodySignsIn_TimesOutWithinTheTimeout()
    {
        var watch = Stopwatch.StartNew();
        var (exit, _, stderr) = Start("login", "--no-browser", "--login-timeout", "1s", "-c", "2", "-d", "1s");

        var url = await stderr.Url;
        var code = await exit.WaitAsync(Bound);

        Assert.Equal(1, code);
        Assert.Contains("AuthorizationTimedOut", stderr.ToString());
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15));
        var redirect = new Uri(Uri.UnescapeDataString(Regex.Match(url.Query, "redirect_uri=([^&]+)").Groups[1].Value));
        using var probe = new System.Net.Sockets.TcpClient();
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, redirect.Port).WaitAsync(Bound));
    }

    [Fact]
    public async Task Login_WithAuthority_IsAUsageError()
    {
        var run = await CliHarness.RunAsync(["login", "--authority", "https://login.example.com"]);

        Assert.Equal(ExitCodes.Usage, run.ExitCode);
    }
}
