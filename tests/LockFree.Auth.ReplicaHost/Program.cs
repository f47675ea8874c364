using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LockFree.Auth;
using LockFree.Auth.OAuth;
using LockFree.Auth.Redis;
using StackExchange.Redis;

// One replica of a client-credentials client (issue 13): a ClientOAuthProvider for <server>/mcp, optionally sharing its
// tokens through Redis, with <callers> concurrent callers asking for a token for <seconds>. Prints one JSON line:
// {"replica":0,"shared":true,"calls":…,"failures":…,"tokens":…,"firstError":null}.
//
// Usage: LockFree.Auth.ReplicaHost --server http://127.0.0.1:5000 [--redis 127.0.0.1:6379 --prefix p --key <hex>]
//        [--callers 64] [--seconds 10] [--replica 0]
var arguments = Arguments.Parse(args);
var server = arguments.Get("server") ?? throw new ArgumentException("--server is required.");
var redisEndpoint = arguments.Get("redis");
var callers = int.Parse(arguments.Get("callers") ?? "64", CultureInfo.InvariantCulture);
var duration = TimeSpan.FromSeconds(double.Parse(arguments.Get("seconds") ?? "10", CultureInfo.InvariantCulture));
var replica = arguments.Get("replica") ?? "0";

ConnectionMultiplexer? redis = null;
var options = new ClientOAuthOptions { GrantType = OAuthGrantType.ClientCredentials, ClientId = "m2m", ClientSecret = "pw" };
if (redisEndpoint is not null)
{
    redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
    {
        EndPoints = { redisEndpoint },
        AbortOnConnectFail = false,
        BacklogPolicy = BacklogPolicy.FailFast,
    });
    var store = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = arguments.Get("prefix") ?? "replicas" });
    var key = Convert.FromHexString(arguments.Get("key") ?? throw new ArgumentException("--key (hex, 32 bytes) is required with --redis."));
    options.SharedTokens = new TokenSharing(store, "m2m", new SharedTokenOptions { Protector = new AesGcmSharedTokenProtector(key) });
}

using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
using var provider = new ClientOAuthProvider(new Uri(server.TrimEnd('/') + "/mcp"), options, http);
long calls = 0;
long failures = 0;
string? firstError = null;
var seen = new HashSet<string>(StringComparer.Ordinal);
var stopwatch = Stopwatch.StartNew();

async Task CallerAsync()
{
    string? last = null;
    while (stopwatch.Elapsed < duration)
    {
        try
        {
            var tokens = await provider.GetTokensAsync();
            Interlocked.Increment(ref calls);
            if (!ReferenceEquals(tokens.AccessToken, last))
            {
                last = tokens.AccessToken;
                lock (seen) { seen.Add(last); }
            }
        }
        catch (Exception exception)
        {
            Interlocked.Increment(ref failures);
            Interlocked.CompareExchange(ref firstError, exception.GetType().Name + ": " + exception.Message, null);
        }

        // A caller paced like a request loop, so 64 callers in 4 processes do not starve the 2 cores they share.
        await Task.Delay(5);
    }
}

await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(CallerAsync)));
Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
{
    ["replica"] = replica,
    ["shared"] = redis is not null,
    ["calls"] = Interlocked.Read(ref calls),
    ["failures"] = Interlocked.Read(ref failures),
    ["tokens"] = seen.Count,
    ["firstError"] = firstError,
}));
if (redis is not null)
{
    await redis.DisposeAsync();
}

return 0;

/// <summary>--name value pairs.</summary>
internal sealed class Arguments(Dictionary<string, string> values)
{
    public static Arguments Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        return new Arguments(values);
    }

    public string? Get(string name) => values.GetValueOrDefault(name);
}
