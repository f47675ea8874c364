// A trimming/AOT smoke test (spec/aot.md): the client credentials client through DI and IHttpClientFactory against an
// in-process token endpoint, options bound from configuration, and the Redis store's types. Exit code 0 = it worked
// after trimming.
using System.Net;
using System.Text;
using LockFree.Auth.ClientCredentials;
using LockFree.Auth.Extensions;
using LockFree.Auth.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

var configuration = new ConfigurationBuilder()
    .AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Clients:billing:TokenEndpoint"] = "https://as.example/token",
        ["Clients:billing:ClientId"] = "billing",
        ["Clients:billing:ClientSecret"] = "s3cret",
        ["Clients:billing:Scope"] = "invoices.read",
    })
    .Build();

var tokenEndpoint = new TokenEndpoint();
var services = new ServiceCollection();
services.AddClientCredentialsTokenManagement()
    .AddClient("billing", configuration.GetSection("Clients:billing"));
services.AddHttpClient(ClientCredentialsTokenManagementBuilder.BackChannelHttpClientName)
    .ConfigurePrimaryHttpMessageHandler(() => tokenEndpoint);
services.AddClientCredentialsHttpClient("billing-api", "billing", c => c.BaseAddress = new Uri("https://api.example/"))
    .ConfigurePrimaryHttpMessageHandler(() => new Api());

await using var provider = services.BuildServiceProvider();
using var api = provider.GetRequiredService<IHttpClientFactory>().CreateClient("billing-api");
for (var i = 0; i < 3; i++)
{
    var body = await api.GetStringAsync(new Uri("invoices", UriKind.Relative));
    if (body != "Bearer at-1") return Fail($"call {i}: the API saw '{body}'");
}
if (tokenEndpoint.Exchanges != 1) return Fail($"{tokenEndpoint.Exchanges} token requests, expected 1 (cached)");

if (args is ["--redis", var endpoint])
{
    // Not run by CI (no server there); present so the trimmer analyzes the Redis store against StackExchange.Redis.
    await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(endpoint);
    await using var store = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = "smoke:" });
    Console.WriteLine($"redis: record {(await store.ReadAsync("billing", CancellationToken.None) is null ? "absent" : "present")}");
}

var manager = provider.GetRequiredService<ClientCredentialsTokenManager>();
var redisOptions = new RedisSharedTokenStoreOptions { KeyPrefix = "smoke:" };
Console.WriteLine($"aot-smoke: ok ({tokenEndpoint.Exchanges} exchange, {manager.GetType().Name}, redis prefix {redisOptions.KeyPrefix})");
return 0;

static int Fail(string message)
{
    Console.Error.WriteLine("aot-smoke: FAILED: " + message);
    return 1;
}

sealed class TokenEndpoint : HttpMessageHandler
{
    private int _exchanges;
    public int Exchanges => Volatile.Read(ref _exchanges);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var n = Interlocked.Increment(ref _exchanges);
        var json = $$"""{"access_token":"at-{{n}}","token_type":"Bearer","expires_in":3600}""";
        return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        });
    }
}

sealed class Api : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(request.Headers.Authorization?.ToString() ?? "none") });
}
