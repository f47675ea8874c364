using System.Diagnostics;
using System.Text;
using System.Text.Json;
using LockFree.Auth.BrowserTests.Infrastructure;
using LockFree.Cli;
using OpenQA.Selenium;
using Xunit.Abstractions;

namespace LockFree.Auth.BrowserTests;

/// <summary><c>lockfree login --no-browser</c>: Chromium opens the printed URL, signs in, and the storm runs on that token.</summary>
[Collection(ChromiumGroup.Name)]
public sealed class CliLoginInBrowserTests(ChromiumFixture chromium, ITestOutputHelper output)
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
                var text = _text.ToString();
                if (value == '\n' && text.TrimEnd('\n').Split('\n')[^1] is var last && last.StartsWith("http://", StringComparison.Ordinal))
                {
                    _url.TrySetResult(new Uri(last.Trim()));
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

    [Fact]
    public async Task LockfreeLogin_NoBrowser_SignInInChromium_ThenTheStormPasses()
    {
        var stdout = new WatchedWriter();
        var stderr = new WatchedWriter();
        var app = new CliApp(new CliEnvironment(stdout, stderr, name => name == "CI" ? "true" : null, OutputIsTerminal: false));
        var exit = Task.Run(() => app.InvokeAsync(["login", "--no-browser", "--json", "-c", "16", "-d", "2s", "--revoke-every", "700ms"], CancellationToken.None));
        try
        {
            var url = await stderr.Url;
            chromium.Driver.Navigate().GoToUrl(url);
            chromium.WaitForId("username").SendKeys("alice");
            var clicked = Stopwatch.GetTimestamp();
            chromium.Driver.FindElement(By.Id("allow")).Click();
            Assert.Equal("success", chromium.WaitForOutcome());
            var signedIn = Stopwatch.GetElapsedTime(clicked);
            var code = await exit.WaitAsync(Bound);

            Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
            using var json = JsonDocument.Parse(stdout.ToString());
            var login = json.RootElement.GetProperty("login");
            var exchanges = json.RootElement.GetProperty("exchanges");
            var line = $"lockfree login in Chromium: success page {signedIn.TotalMilliseconds:0} ms after the click; {login.GetProperty("loginPages").GetInt64()} login page, " +
                $"{login.GetProperty("codeExchanges").GetInt64()} code exchange, {login.GetProperty("refreshExchanges").GetInt64()} refresh grants; storm " +
                $"{json.RootElement.GetProperty("requests").GetProperty("total").GetInt64()} requests, {json.RootElement.GetProperty("requests").GetProperty("failed").GetInt64()} failed, " +
                $"exchanges {exchanges.GetProperty("total").GetInt64()} (ideal {exchanges.GetProperty("ideal").GetInt64()})";
            output.WriteLine(line);
            Artifacts.Record(line);
            Assert.Equal(1, login.GetProperty("loginPages").GetInt64());
            Assert.Equal(1, login.GetProperty("codeExchanges").GetInt64());
            Assert.True(json.RootElement.GetProperty("passed").GetBoolean(), stdout.ToString());
        }
        catch
        {
            output.WriteLine("failure screenshot: " + Artifacts.Screenshot(chromium.Driver, nameof(LockfreeLogin_NoBrowser_SignInInChromium_ThenTheStormPasses) + "-failure"));
            output.WriteLine(stderr.ToString());
            throw;
        }
    }
}
