using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace LockFree.Auth.Tests.Security;

/// <summary>
/// M1: every cache a server can grow is bounded. A hostile resource (on its own origin: a foreign one is ignored, T6)
/// sends a new resource-metadata hint naming a new authorization server on every 401, or a new scope on every 403;
/// retained memory after a full GC stays flat. In memory (no sockets) so 10,000 rounds take seconds.
/// </summary>
[Collection(nameof(LockFree.Auth.Tests.State.MemoryMeasurements))] // alone: GC.GetTotalMemory is process-wide
public sealed class BoundedStateTests(ITestOutputHelper output)
{
    private const string Origin = "https://mcp.hostile.test";
    private const int Rounds = 10_000;

    [Fact]
    public async Task NewHintAndAuthorizationServerOnEvery401_RetainedMemoryStaysFlat()
    {
        var server = new HostileServer();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var backChannel = new HttpClient(server);
        using var provider = new ClientOAuthProvider(new Uri(Origin + "/mcp"), new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            DynamicClientRegistration = new() { ClientName = "bounded" }, // per-server identity: follows the resource (T3)
        }, backChannel, null, time);
        using var http = new HttpClient(new ClientOAuthHandler(provider, server));

        async Task RunAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                time.Advance(TimeSpan.FromMinutes(6)); // past the longest fresh-rejection back-off (R1), so every round exchanges
                using var response = await http.GetAsync(Origin + "/mcp");
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }
        }

        await RunAsync(200);
        var before = RetainedMiB();
        var exchangesBefore = server.TokenRequests;
        await RunAsync(Rounds);
        var after = RetainedMiB();

        output.WriteLine($"{Rounds} rounds, each a new hint and a new authorization server: {server.TokenRequests - exchangesBefore} exchanges, {server.Registrations} registrations; retained {before:F2} MiB before, {after:F2} MiB after (+{after - before:F2} MiB)");
        Assert.True(server.TokenRequests - exchangesBefore >= Rounds, "the hostile rounds did not reach the token endpoint (the test would prove nothing)");
        Assert.True(after - before < 8, $"retained memory grew by {after - before:F2} MiB over {Rounds} hostile rounds");
    }

    [Fact]
    public async Task NewScopeOnEvery403_BoundedByTheScopeLimit()
    {
        var server = new HostileServer { StepUpEveryRequest = true };
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var backChannel = new HttpClient(server);
        using var provider = new ClientOAuthProvider(new Uri(Origin + "/mcp"), new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            DynamicClientRegistration = new() { ClientName = "bounded" },
        }, backChannel, null, time);
        using var http = new HttpClient(new ClientOAuthHandler(provider, server));

        async Task<int> RunAsync(int count)
        {
            var limited = 0;
            for (var i = 0; i < count; i++)
            {
                try
                {
                    using var response = await http.GetAsync(Origin + "/mcp");
                }
                catch (OAuthException ex) when (ex.Reason == OAuthFailureReason.LimitExceeded)
                {
                    limited++;
                }
            }

            return limited;
        }

        await RunAsync(200);
        var before = RetainedMiB();
        var limited = await RunAsync(Rounds);
        var after = RetainedMiB();

        output.WriteLine($"{Rounds} rounds, each a 403 with a new scope: {server.TokenRequests} exchanges in all, {limited} LimitExceeded, {provider.CurrentScopes.Count} scopes in use; retained {before:F2} MiB before, {after:F2} MiB after (+{after - before:F2} MiB)");
        Assert.Equal(Rounds, limited);
        Assert.True(server.TokenRequests <= ScopeSet.MaxScopes + 1, $"{server.TokenRequests} exchanges");
        Assert.True(after - before < 8, $"retained memory grew by {after - before:F2} MiB over {Rounds} hostile rounds");
    }

    private static double RetainedMiB()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true) / (1024.0 * 1024.0);
    }

    /// <summary>A resource and any number of authorization servers on one origin, all in memory; every 401 names new ones.</summary>
    private sealed class HostileServer : HttpMessageHandler
    {
        private int _round;
        private int _tokens;
        private int _registrations;

        public bool StepUpEveryRequest { get; init; }

        public int TokenRequests => Volatile.Read(ref _tokens);

        public int Registrations => Volatile.Read(ref _registrations);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            HttpResponseMessage response;
            if (path == "/mcp")
            {
                var n = Interlocked.Increment(ref _round);
                response = new HttpResponseMessage(StepUpEveryRequest && request.Headers.Authorization is not null ? HttpStatusCode.Forbidden : HttpStatusCode.Unauthorized);
                response.Headers.TryAddWithoutValidation("WWW-Authenticate", StepUpEveryRequest
                    ? (request.Headers.Authorization is null ? $"Bearer resource_metadata=\"{Origin}/prm/0\"" : $"Bearer error=\"insufficient_scope\", scope=\"scope-{n}-{new string('x', 40)}\"")
                    : $"Bearer resource_metadata=\"{Origin}/prm/{n}\"");
            }
            else if (path.StartsWith("/prm/", StringComparison.Ordinal))
            {
                var n = path["/prm/".Length..];
                response = Json(new Dictionary<string, object> { ["resource"] = Origin + "/mcp", ["authorization_servers"] = new[] { $"{Origin}/as/{n}" } });
            }
            else if (path.StartsWith("/.well-known/oauth-authorization-server/as/", StringComparison.Ordinal))
            {
                var issuer = Origin + path["/.well-known/oauth-authorization-server".Length..];
                response = Json(new Dictionary<string, object>
                {
                    ["issuer"] = issuer,
                    ["token_endpoint"] = issuer + "/token",
                    ["registration_endpoint"] = issuer + "/register",
                    ["token_endpoint_auth_methods_supported"] = new[] { "none" },
                });
            }
            else if (path.EndsWith("/register", StringComparison.Ordinal))
            {
                response = Json(new Dictionary<string, object> { ["client_id"] = $"client-{Interlocked.Increment(ref _registrations)}", ["token_endpoint_auth_method"] = "none" }, HttpStatusCode.Created);
            }
            else if (path.EndsWith("/token", StringComparison.Ordinal))
            {
                var n = Interlocked.Increment(ref _tokens);
                response = Json(new Dictionary<string, object> { ["access_token"] = $"at-{n}-{new string('t', 900)}", ["token_type"] = "Bearer", ["expires_in"] = 3600 });
            }
            else
            {
                response = new HttpResponseMessage(HttpStatusCode.NotFound);
            }

            response.RequestMessage = request;
            return Task.FromResult(response);
        }

        private static HttpResponseMessage Json(object body, HttpStatusCode status = HttpStatusCode.OK) =>
            new(status) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
    }
}
