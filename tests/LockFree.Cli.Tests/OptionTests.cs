namespace LockFree.Cli.Tests;

public sealed class OptionTests
{
    [Theory]
    [InlineData("--clients", "0")]
    [InlineData("--clients", "many")]
    [InlineData("--duration", "-1")]
    [InlineData("--duration", "soon")]
    [InlineData("--token-lifetime", "1500ms")]
    [InlineData("--provider", "nope")]
    [InlineData("--authority", "not a url")]
    [InlineData("--authority", "http://example.com")]
    [InlineData("--no-such-option", "1")]
    [InlineData("--client-id", "x")]
    public async Task Bad_options_exit_with_2_and_a_clear_message_without_a_stack_trace(string option, string value)
    {
        var run = await CliHarness.RunAsync([option, value]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("lockfree: ", run.Error, StringComparison.Ordinal);
        Assert.Contains("--help", run.Error);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Out);
    }

    [Fact]
    public async Task Authority_without_resource_is_a_usage_error()
    {
        var run = await CliHarness.RunAsync(["--authority", "https://login.example.com", "--client-id", "c"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--resource", run.Error);
    }

    [Fact]
    public async Task Embedded_only_options_are_refused_with_an_authority()
    {
        var run = await CliHarness.RunAsync(["--authority", "https://login.example.com", "--resource", "https://api.example.com/", "--client-id", "c", "--token-lifetime", "5s"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--token-lifetime", run.Error);
    }

    [Fact]
    public async Task Settings_the_provider_refuses_are_a_usage_error_without_a_stack_trace()
    {
        // Client credentials without a secret: the provider's constructor refuses it.
        var run = await CliHarness.RunAsync(["--authority", "https://127.0.0.1:1", "--resource", "https://127.0.0.1:1/mcp", "--client-id", "c", "-d", "1s"]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("lockfree: invalid settings:", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_documents_every_option_and_exits_0()
    {
        var run = await CliHarness.RunAsync(["--help"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var option in new[]
        {
            "--clients", "--duration", "--provider", "--token-lifetime", "--revoke-every", "--json", "--plain", "--authority",
            "--resource", "--client-id", "--client-secret", "--scope", "--idp-token-endpoint", "--idp-client-id", "--idp-client-secret", "--id-token", "storm",
        })
        {
            Assert.Contains(option, run.Out);
        }

        Assert.Contains("LOCKFREE_CLIENT_SECRET", run.Out);
    }

    [Theory]
    [InlineData("20", 20_000)]
    [InlineData("20s", 20_000)]
    [InlineData("500ms", 500)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    public void Durations_parse_with_units(string text, int milliseconds)
    {
        Assert.True(CliApp.TryParseDuration(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }
}
