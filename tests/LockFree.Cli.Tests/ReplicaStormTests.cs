using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LockFree.Cli.Embedded;
using LockFree.Cli.Replicas;

namespace LockFree.Cli.Tests;

/// <summary>
/// <c>lockfree storm --replicas</c> (issue 13): replica processes of this executable share one token through a
/// redis-server the storm starts itself. Needs <c>redis-server</c> on PATH (CI installs it); a missing server fails
/// with the installation hint, it never skips.
/// </summary>
[Collection(StormTestGroup.Name)]
public sealed class ReplicaStormTests
{
    [Fact]
    public async Task Two_replicas_sharing_one_token_through_redis_exchange_no_more_than_one_client_with_no_invalid_grant()
    {
        Assert.True(LocalRedisServer.Find() is not null, ReplicaStorm.MissingRedisMessage);

        var run = await CliHarness.RunAsync(["storm", "--replicas", "2", "-c", "16", "-d", "4s", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        var json = run.Json();
        Assert.True(json.GetProperty("passed").GetBoolean(), run.ToString());
        Assert.Equal("replicas", json.GetProperty("mode").GetString());
        Assert.True(json.GetProperty("sharedStore").GetBoolean());
        var perReplica = json.GetProperty("perReplica").EnumerateArray().ToList();
        Assert.Equal(2, perReplica.Count);
        Assert.All(perReplica, r =>
        {
            Assert.Equal(0, r.GetProperty("exitCode").GetInt32());
            Assert.True(r.GetProperty("report").GetProperty("calls").GetInt64() > 0, run.ToString());
            Assert.True(r.GetProperty("report").GetProperty("shared").GetBoolean());
        });

        var total = json.GetProperty("total");
        var server = json.GetProperty("server");
        Assert.Equal(0, total.GetProperty("invalidGrant").GetInt64());
        Assert.Equal(0, total.GetProperty("failed").GetInt64());
        Assert.Equal(0, server.GetProperty("rejected").GetInt64());
        Assert.Equal(0, server.GetProperty("refreshReuses").GetInt64());
        Assert.Equal(1, server.GetProperty("clientCredentials").GetInt64());
        var exchanges = server.GetProperty("exchanges").GetInt64();
        Assert.Equal(exchanges, total.GetProperty("exchanges").GetInt64());
        Assert.InRange(exchanges, 1, json.GetProperty("idealOneClient").GetInt64());
        Assert.True(json.GetProperty("withinIdeal").GetBoolean());
        Assert.Equal(string.Empty, run.Error);
    }

    [Fact]
    public async Task Shared_store_without_replicas_and_replicas_with_another_provider_are_usage_errors()
    {
        var sharedAlone = await CliHarness.RunAsync(["--shared-store", "off"]);
        var otherProvider = await CliHarness.RunAsync(["--replicas", "2", "--provider", "naive"]);
        var badValue = await CliHarness.RunAsync(["--replicas", "2", "--shared-store", "maybe"]);

        Assert.True(sharedAlone.ExitCode == 2 && sharedAlone.Error.Contains("--replicas", StringComparison.Ordinal), sharedAlone.ToString());
        Assert.True(otherProvider.ExitCode == 2 && otherProvider.Error.Contains("client-oauth", StringComparison.Ordinal), otherProvider.ToString());
        Assert.True(badValue.ExitCode == 2, badValue.ToString());
    }

    [Fact]
    public async Task Embedded_server_rotates_the_confidential_clients_refresh_token_and_a_reuse_revokes_the_family()
    {
        var settings = new EmbeddedServerSettings { RevokeEvery = TimeSpan.Zero, ConfidentialRefreshTokens = true };
        await using var server = await EmbeddedServer.StartAsync(settings, TimeProvider.System, CancellationToken.None);
        using var http = new HttpClient { BaseAddress = server.BaseUri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{settings.ClientId}:{settings.ClientSecret}")));

        async Task<(HttpStatusCode Status, JsonElement Body)> TokenAsync(params (string, string)[] form)
        {
            using var response = await http.PostAsync("token", new FormUrlEncodedContent(form.Select(p => KeyValuePair.Create(p.Item1, p.Item2))));
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return (response.StatusCode, doc.RootElement.Clone());
        }

        var grant = await TokenAsync(("grant_type", "client_credentials"));
        var rt1 = grant.Body.GetProperty("refresh_token").GetString()!;
        var refreshed = await TokenAsync(("grant_type", "refresh_token"), ("refresh_token", rt1));
        var rt2 = refreshed.Body.GetProperty("refresh_token").GetString()!;
        var reuse = await TokenAsync(("grant_type", "refresh_token"), ("refresh_token", rt1));
        var afterRevocation = await TokenAsync(("grant_type", "refresh_token"), ("refresh_token", rt2));

        Assert.Equal(HttpStatusCode.OK, refreshed.Status);
        Assert.NotEqual(rt1, rt2);
        Assert.Equal(HttpStatusCode.BadRequest, reuse.Status);
        Assert.Equal("invalid_grant", reuse.Body.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, afterRevocation.Status);
        Assert.Equal("invalid_grant", afterRevocation.Body.GetProperty("error").GetString());
        Assert.Equal(1, server.RefreshReuses);
        Assert.Equal(1, server.Counters.RefreshGrants);
    }
}
