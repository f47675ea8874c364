using System.Text.Json;
using LockFree.Cli.Embedded;

namespace LockFree.Cli.Tests;

[Collection(StormTestGroup.Name)]
public sealed class StormCommandTests
{
    [Fact]
    public async Task Json_storm_against_the_embedded_server_makes_exactly_the_ideal_exchanges_and_no_request_fails()
    {
        // 2 s tokens (refresh-ahead every 1.6 s), the current token revoked every second until 3.5 s, a 4 s storm:
        // every revocation comes before the next refresh is due, so the ideal is the first token plus one exchange per
        // revocation, with about a second of margin around every event even on a loaded machine. The ideal is computed
        // from when the first token and each revocation actually happened.
        var run = await CliHarness.RunAsync(["--json", "--clients", "16", "--duration", "4s", "--token-lifetime", "2s", "--revoke-every", "1s"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        var json = run.Json();
        Assert.True(json.GetProperty("passed").GetBoolean(), run.ToString());
        Assert.Equal(1, json.GetProperty("schemaVersion").GetInt32());
        Assert.Equal("embedded", json.GetProperty("mode").GetString());
        Assert.Equal(16, json.GetProperty("clients").GetInt32());

        var requests = json.GetProperty("requests");
        Assert.True(requests.GetProperty("total").GetInt64() > 0, run.ToString());
        Assert.Equal(0, requests.GetProperty("failed").GetInt64());
        Assert.Empty(json.GetProperty("errors").EnumerateArray());
        Assert.Empty(json.GetProperty("failures").EnumerateArray());

        var exchanges = json.GetProperty("exchanges");
        var total = exchanges.GetProperty("total").GetInt64();
        var ideal = exchanges.GetProperty("ideal").GetInt64();
        var revocations = exchanges.GetProperty("revocations").GetInt64();
        Assert.Equal(1.6, exchanges.GetProperty("refreshIntervalSeconds").GetDouble(), 3);
        Assert.InRange(revocations, 1, 3);
        Assert.Equal(ideal, exchanges.GetProperty("idealInitial").GetInt64() + exchanges.GetProperty("idealRefreshes").GetInt64() + exchanges.GetProperty("idealRevocations").GetInt64());
        Assert.True(total == ideal, run.ToString());
        Assert.True(exchanges.GetProperty("withinIdeal").GetBoolean());

        var unauthorized = json.GetProperty("unauthorized");
        Assert.True(unauthorized.GetProperty("revoked").GetInt64() >= 1, run.ToString());

        var meter = json.GetProperty("meter");
        Assert.True(meter.GetProperty("callersCoalesced").GetInt64() >= 0);
        Assert.True(meter.GetProperty("acquisitionsStarted").GetInt64() >= total, run.ToString());

        var latency = json.GetProperty("latencyMs");
        Assert.True(latency.GetProperty("p50").GetDouble() <= latency.GetProperty("p99").GetDouble());
        Assert.True(latency.GetProperty("p99").GetDouble() <= latency.GetProperty("max").GetDouble());
        Assert.Equal(string.Empty, run.Error);
    }

    [Theory]
    [InlineData("client-oauth", "ClientOAuthHandler")]
    [InlineData("cross-app", "CrossApplicationAccessHandler")]
    [InlineData("core", "AuthCoordinator")]
    [InlineData("client-credentials", "ClientCredentialsTokenHandler")]
    public async Task Each_provider_passes_a_short_storm(string provider, string shown)
    {
        var run = await CliHarness.RunAsync(["--provider", provider, "-c", "8", "-d", "2s", "--revoke-every", "700ms"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(shown, run.Out);
        Assert.Contains("PASS", run.Out);
    }

    [Fact]
    public async Task The_naive_baseline_exceeds_the_ideal_and_fails_with_exit_code_1()
    {
        // Without coalescing, the cold start alone makes (nearly) one exchange per client.
        var run = await CliHarness.RunAsync(["--json", "--provider", "naive", "-c", "32", "-d", "1s", "--revoke-every", "0"]);

        Assert.True(run.ExitCode == 1, run.ToString());
        var json = run.Json();
        Assert.False(json.GetProperty("passed").GetBoolean());
        var exchanges = json.GetProperty("exchanges");
        Assert.True(exchanges.GetProperty("total").GetInt64() > exchanges.GetProperty("ideal").GetInt64(), run.ToString());
        Assert.False(exchanges.GetProperty("withinIdeal").GetBoolean());
        Assert.True(exchanges.GetProperty("reasons").GetProperty("redundant").GetInt64() > 0, run.ToString());
        Assert.Contains(json.GetProperty("failures").EnumerateArray(), f => f.GetString()!.Contains("exceed the ideal", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Plain_storm_prints_progress_and_a_summary_with_the_ideal_and_no_secrets()
    {
        var run = await CliHarness.RunAsync(["storm", "-c", "8", "-d", "2s", "--revoke-every", "0"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("lockfree storm: 8 concurrent clients for 2 s", run.Out);
        Assert.Contains("summary", run.Out);
        Assert.Contains("token exchanges", run.Out);
        Assert.Contains("ideal", run.Out);
        Assert.Contains("coalesced waiters", run.Out);
        Assert.Contains("p50", run.Out);
        Assert.Contains("PASS", run.Out);
        Assert.DoesNotContain("\u001b[", run.Out, StringComparison.Ordinal); // plain: no ANSI escapes when not a terminal / CI=true
        Assert.DoesNotContain("cs_", run.Out, StringComparison.Ordinal);      // the embedded client secret is never printed
        Assert.DoesNotContain(" at_", run.Out, StringComparison.Ordinal);      // nor an access token
    }

    [Fact]
    public async Task External_mode_runs_the_same_storm_against_a_given_authority_and_resource()
    {
        await using var server = await EmbeddedServer.StartAsync(new EmbeddedServerSettings { RevokeEvery = TimeSpan.Zero }, TimeProvider.System, CancellationToken.None);
        var run = await CliHarness.RunAsync(
            ["--json", "-c", "8", "-d", "2s", "--authority", server.Issuer, "--resource", server.ResourceUri.ToString(), "--client-id", server.Settings.ClientId],
            new Dictionary<string, string> { ["LOCKFREE_CLIENT_SECRET"] = server.Settings.ClientSecret });

        Assert.True(run.ExitCode == 0, run.ToString());
        var json = run.Json();
        Assert.Equal("external", json.GetProperty("mode").GetString());
        var exchanges = json.GetProperty("exchanges");
        Assert.Equal(2.0, exchanges.GetProperty("tokenLifetimeSeconds").GetDouble());
        Assert.True(exchanges.GetProperty("total").GetInt64() <= exchanges.GetProperty("ideal").GetInt64(), run.ToString());
        // The client-side count (back channel) matches the server's; a refresh may start after the window closed.
        Assert.InRange(server.Counters.AccessTokensIssued, exchanges.GetProperty("total").GetInt64(), exchanges.GetProperty("total").GetInt64() + 1);
        Assert.DoesNotContain(server.Settings.ClientSecret, run.Out + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task External_cross_app_mode_takes_the_idp_settings_from_options_and_environment()
    {
        await using var server = await EmbeddedServer.StartAsync(new EmbeddedServerSettings { RevokeEvery = TimeSpan.Zero }, TimeProvider.System, CancellationToken.None);
        var run = await CliHarness.RunAsync(
            ["--json", "-p", "cross-app", "-c", "8", "-d", "2s", "--authority", server.Issuer, "--resource", server.ResourceUri.ToString(),
             "--client-id", server.Settings.ClientId, "--idp-token-endpoint", server.IdpTokenEndpoint.ToString(), "--idp-client-id", server.Settings.IdpClientId],
            new Dictionary<string, string>
            {
                ["LOCKFREE_CLIENT_SECRET"] = server.Settings.ClientSecret,
                ["LOCKFREE_IDP_CLIENT_SECRET"] = server.Settings.IdpClientSecret,
                ["LOCKFREE_ID_TOKEN"] = server.IdToken,
            });

        Assert.True(run.ExitCode == 0, run.ToString());
        var exchanges = run.Json().GetProperty("exchanges");
        Assert.InRange(server.Counters.JwtBearerGrants, exchanges.GetProperty("total").GetInt64(), exchanges.GetProperty("total").GetInt64() + 1);
        Assert.InRange(server.Counters.TokenExchanges, exchanges.GetProperty("idpTokenExchanges").GetInt64(), exchanges.GetProperty("idpTokenExchanges").GetInt64() + 1);
        Assert.True(exchanges.GetProperty("withinIdeal").GetBoolean(), run.ToString());
        Assert.DoesNotContain(server.IdToken, run.Out + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_client_secret_fails_the_storm_with_exit_code_1_and_no_stack_trace()
    {
        await using var server = await EmbeddedServer.StartAsync(new EmbeddedServerSettings { RevokeEvery = TimeSpan.Zero }, TimeProvider.System, CancellationToken.None);
        var run = await CliHarness.RunAsync(
            ["-c", "4", "-d", "1s", "--authority", server.Issuer, "--resource", server.ResourceUri.ToString(), "--client-id", server.Settings.ClientId, "--client-secret", "wrong-secret-value"]);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("FAIL", run.Out);
        Assert.DoesNotContain("   at ", run.Out + run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret-value", run.Out + run.Error, StringComparison.Ordinal);
    }
}
