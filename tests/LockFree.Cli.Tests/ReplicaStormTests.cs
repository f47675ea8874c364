using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LockFree.Cli.Embedded;
using LockFree.Cli.Replicas;

namespace LockFree.Cli.Tests;

/// <summary>
/// <c>lockfree storm --replicas</c> (issue 13): replica processes of this executable, all started from one sign-in (the
/// same token set, so the same rotating refresh token), share one token through a redis-server the storm starts itself;
/// without the store they burn the shared refresh token. Needs <c>redis-server</c> on PATH (CI installs it); a missing server fails
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
        Assert.Equal(1, json.GetProperty("seedExchanges").GetInt32());
        Assert.Equal(0, server.GetProperty("clientCredentials").GetInt64()); // every exchange refreshed the one shared chain
        var exchanges = server.GetProperty("exchanges").GetInt64();
        Assert.Equal(exchanges, total.GetProperty("exchanges").GetInt64());
        Assert.InRange(exchanges, 1, json.GetProperty("idealOneClient").GetInt64());
        Assert.True(json.GetProperty("withinIdeal").GetBoolean());
        Assert.Equal(string.Empty, run.Error);
    }

    [Fact]
    public async Task Existing_redis_given_with_redis_HOST_PORT_is_used_and_left_running_with_only_expiring_keys()
    {
        Assert.True(LocalRedisServer.Find() is not null, ReplicaStorm.MissingRedisMessage);
        await using var redis = await LocalRedisServer.StartAsync(LocalRedisServer.Find()!, CancellationToken.None);

        var run = await CliHarness.RunAsync(["storm", "--replicas", "2", "-c", "8", "-d", "3s", "--redis", redis.Endpoint, "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        var json = run.Json();
        Assert.True(json.GetProperty("sharedStore").GetBoolean());
        Assert.Equal(0, json.GetProperty("server").GetProperty("clientCredentials").GetInt64());
        Assert.Equal(0, json.GetProperty("server").GetProperty("rejected").GetInt64());
        Assert.All(json.GetProperty("perReplica").EnumerateArray(), r => Assert.True(r.GetProperty("report").GetProperty("shared").GetBoolean(), run.ToString()));

        // The storm did not stop a Redis it did not start, and every key it wrote there expires within minutes.
        Assert.Null(await LocalRedisServer.PingAsync(redis.Endpoint, CancellationToken.None));
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var keys = 0;
        await foreach (var key in admin.GetServer(admin.GetEndPoints()[0]).KeysAsync(pattern: "lockfree-storm:*"))
        {
            keys++;
            var ttl = await admin.GetDatabase().KeyTimeToLiveAsync(key);
            Assert.True(ttl is { } t && t <= TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(3), $"{key}: TTL {ttl}");
        }

        Assert.True(keys >= 1, "the replicas shared nothing through the given Redis");
    }

    [Fact]
    public async Task No_shared_store_is_the_baseline_the_replicas_present_the_same_refresh_token_and_get_invalid_grant()
    {
        var run = await CliHarness.RunAsync(["storm", "--replicas", "2", "-c", "8", "-d", "3s", "--no-shared-store", "--json"]);

        // Deterministic: both replicas start with the seed due, so both present its refresh token; the server honours
        // the first and sees the second as a reuse (invalid_grant, family revoked), whichever comes first.
        var json = run.Json();
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.False(json.GetProperty("passed").GetBoolean(), run.ToString());
        Assert.False(json.GetProperty("sharedStore").GetBoolean(), run.ToString());
        var server = json.GetProperty("server");
        Assert.True(server.GetProperty("refreshReuses").GetInt64() >= 1, run.ToString());
        Assert.True(server.GetProperty("rejected").GetInt64() >= 1, run.ToString());
        var perReplica = json.GetProperty("perReplica").EnumerateArray().ToList();
        Assert.All(perReplica, r => Assert.False(r.GetProperty("report").GetProperty("shared").GetBoolean(), run.ToString()));
        Assert.Equal(server.GetProperty("rejected").GetInt64(), perReplica.Sum(r => r.GetProperty("report").GetProperty("invalidGrant").GetInt64()));
        Assert.Equal(server.GetProperty("exchanges").GetInt64(), perReplica.Sum(r => r.GetProperty("report").GetProperty("exchanges").GetInt64()));
        Assert.Contains(json.GetProperty("failures").EnumerateArray(), f => f.GetString()!.Contains("presented the same refresh token", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Shared_store_options_without_replicas_contradictions_and_bad_endpoints_are_usage_errors()
    {
        var noStoreAlone = await CliHarness.RunAsync(["--no-shared-store"]);
        var redisAlone = await CliHarness.RunAsync(["--redis", "127.0.0.1:6379"]);
        var otherProvider = await CliHarness.RunAsync(["--replicas", "2", "--provider", "naive"]);
        var both = await CliHarness.RunAsync(["--replicas", "2", "--no-shared-store", "--redis", "127.0.0.1:6379"]);
        var badEndpoint = await CliHarness.RunAsync(["--replicas", "2", "--redis", "no-port"]);
        var oldForm = await CliHarness.RunAsync(["--replicas", "2", "--shared-store", "off"]);
        var unreachable = await CliHarness.RunAsync(["--replicas", "2", "-d", "1s", "--redis", "127.0.0.1:1"]);

        Assert.True(noStoreAlone.ExitCode == 2 && noStoreAlone.Error.Contains("--no-shared-store applies to --replicas only", StringComparison.Ordinal), noStoreAlone.ToString());
        Assert.True(redisAlone.ExitCode == 2 && redisAlone.Error.Contains("--redis applies to --replicas only", StringComparison.Ordinal), redisAlone.ToString());
        Assert.True(otherProvider.ExitCode == 2 && otherProvider.Error.Contains("client-oauth", StringComparison.Ordinal), otherProvider.ToString());
        Assert.True(both.ExitCode == 2 && both.Error.Contains("contradict", StringComparison.Ordinal), both.ToString());
        Assert.True(badEndpoint.ExitCode == 2 && badEndpoint.Error.Contains("HOST:PORT", StringComparison.Ordinal), badEndpoint.ToString());
        Assert.True(oldForm.ExitCode == 2, oldForm.ToString()); // one way to say it: --no-shared-store
        Assert.True(unreachable.ExitCode == 2 && unreachable.Error.Contains("no Redis answered at --redis 127.0.0.1:1", StringComparison.Ordinal), unreachable.ToString());
    }

    [Theory]
    [InlineData("127.0.0.1:6379", true)]
    [InlineData("redis.internal:6380", true)]
    [InlineData("[::1]:6379", true)]
    [InlineData("localhost", false)]
    [InlineData(":6379", false)]
    [InlineData("127.0.0.1:0", false)]
    [InlineData("127.0.0.1:70000", false)]
    [InlineData("a b:6379", false)]
    public void Redis_endpoint_must_be_host_and_port(string text, bool valid) =>
        Assert.Equal(valid, LockFree.Cli.Commands.OptionValues.IsHostAndPort(text));

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
