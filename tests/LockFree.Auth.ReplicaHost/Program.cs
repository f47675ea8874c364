using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LockFree.Auth;
using LockFree.Auth.OAuth;
using LockFree.Auth.Redis;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

// One replica of a client-credentials client (issue 13): a ClientOAuthProvider for <server>/mcp, optionally sharing its
// tokens through Redis, with <callers> concurrent callers asking for a token for <seconds>. Prints one JSON line:
// {"replica":0,"pid":…,"shared":true,"calls":…,"failures":…,"tokens":…,"maxCallMs":…,"events":{"5005":1,…},"firstError":null}
// (maxCallMs: the slowest call after each caller's first one).
// Every request it sends carries the header X-Replica-Pid (the fault tests' server tells from it which process holds
// the lease); "events" counts the sharing log events (5005 store unavailable, 5006 recovered, 5011 shared refresh token
// withheld, …).
//
// Usage: LockFree.Auth.ReplicaHost --server http://127.0.0.1:5000 [--redis 127.0.0.1:6379 --prefix p --key <hex>]
//        [--callers 64] [--seconds 10] [--replica 0] [--clock-offset <seconds, may be negative>]
//        [--lease-seconds 30] [--redis-timeout-ms 1000] [--stop-on-stdin true] [--seed-file <path>]
// With --seed-file the replica starts from a token set signed in once and handed to every replica (pods restored from
// one token cache): the file (0600, written by the test, never a token on the command line) holds one TokenContainer
// as JSON, which the provider restores through its ITokenCache. Its refresh token is the one every replica holds.
// With --stop-on-stdin the callers also stop when the line "stop" arrives on standard input (the fault tests end a
// run when their scenario is done, whatever each process's start-up took); --seconds stays the upper bound.
var arguments = Arguments.Parse(args);
var server = arguments.Get("server") ?? throw new ArgumentException("--server is required.");
var redisEndpoint = arguments.Get("redis");
var callers = int.Parse(arguments.Get("callers") ?? "64", CultureInfo.InvariantCulture);
var duration = TimeSpan.FromSeconds(double.Parse(arguments.Get("seconds") ?? "10", CultureInfo.InvariantCulture));
var replica = arguments.Get("replica") ?? "0";
var clockOffset = TimeSpan.FromSeconds(double.Parse(arguments.Get("clock-offset") ?? "0", CultureInfo.InvariantCulture));
var time = clockOffset == TimeSpan.Zero ? TimeProvider.System : new OffsetTimeProvider(clockOffset);
var events = new EventCounter();

ConnectionMultiplexer? redis = null;
var options = new ClientOAuthOptions { GrantType = OAuthGrantType.ClientCredentials, ClientId = "m2m", ClientSecret = "pw" };
if (arguments.Get("seed-file") is { } seedFile)
{
    options.TokenCache = new SeedTokenCache(JsonSerializer.Deserialize<TokenContainer>(File.ReadAllText(seedFile))
        ?? throw new ArgumentException("--seed-file holds no token set."));
}

if (redisEndpoint is not null)
{
    // Short timeouts and a quick reconnect, so that the fault tests see a dead or blackholed Redis within a second.
    var timeout = int.Parse(arguments.Get("redis-timeout-ms") ?? "1000", CultureInfo.InvariantCulture);
    redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
    {
        EndPoints = { redisEndpoint },
        AbortOnConnectFail = false,
        BacklogPolicy = BacklogPolicy.FailFast,
        ConnectTimeout = timeout,
        AsyncTimeout = timeout,
        SyncTimeout = timeout,
        ConnectRetry = 1,
        ReconnectRetryPolicy = new LinearRetry(200),
    });
    var store = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = arguments.Get("prefix") ?? "replicas" }, time);
    var key = Convert.FromHexString(arguments.Get("key") ?? throw new ArgumentException("--key (hex, 32 bytes) is required with --redis."));
    var sharedOptions = new SharedTokenOptions { Protector = new AesGcmSharedTokenProtector(key), LoggerFactory = events };
    if (arguments.Get("lease-seconds") is { } lease)
    {
        sharedOptions.LeaseTimeToLive = TimeSpan.FromSeconds(double.Parse(lease, CultureInfo.InvariantCulture));
    }

    options.SharedTokens = new TokenSharing(store, "m2m", sharedOptions);
}

using var http = new HttpClient(new PidHeaderHandler(new SocketsHttpHandler { AllowAutoRedirect = false }));
using var provider = new ClientOAuthProvider(new Uri(server.TrimEnd('/') + "/mcp"), options, http, timeProvider: time);
long maxCallTicks = 0;
long calls = 0;
long failures = 0;
string? firstError = null;
var seen = new HashSet<string>(StringComparer.Ordinal);
using var stop = new CancellationTokenSource(duration);
if (arguments.Get("stop-on-stdin") == "true")
{
    _ = Task.Run(async () =>
    {
        while (await Console.In.ReadLineAsync() is { } line)
        {
            if (line.Trim() == "stop")
            {
                await stop.CancelAsync();
                return;
            }
        }
    });
}

async Task CallerAsync()
{
    string? last = null;
    var warm = false; // the first call of each caller (discovery, JIT, the first exchange) is not counted in maxCallMs
    while (!stop.IsCancellationRequested)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var tokens = await provider.GetTokensAsync();
            Interlocked.Increment(ref calls);
            var took = warm ? Stopwatch.GetElapsedTime(started).Ticks : 0;
            warm = true;
            for (var max = Interlocked.Read(ref maxCallTicks); took > max; max = Interlocked.Read(ref maxCallTicks))
            {
                if (Interlocked.CompareExchange(ref maxCallTicks, took, max) == max)
                {
                    break;
                }
            }

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
    ["pid"] = Environment.ProcessId,
    ["shared"] = redis is not null,
    ["calls"] = Interlocked.Read(ref calls),
    ["failures"] = Interlocked.Read(ref failures),
    ["tokens"] = seen.Count,
    ["maxCallMs"] = (long)TimeSpan.FromTicks(Interlocked.Read(ref maxCallTicks)).TotalMilliseconds,
    ["events"] = events.Snapshot(),
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


/// <summary>
/// The shared sign-in: the seed token set, restored once by the provider; later token sets stay in the provider (and, with
/// the store, in Redis), none is written back.
/// </summary>
internal sealed class SeedTokenCache(TokenContainer seed) : ITokenCache
{
    public ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct) => ValueTask.CompletedTask;

    public ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct) => ValueTask.FromResult<TokenContainer?>(seed);
}

/// <summary>The system clock shifted by a fixed offset: a replica whose clock is wrong (the fault tests' skew).</summary>
internal sealed class OffsetTimeProvider(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}

/// <summary>Adds X-Replica-Pid to every request, so the test's authorization server knows which process sent it.</summary>
internal sealed class PidHeaderHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private static readonly string Pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.TryAddWithoutValidation("X-Replica-Pid", Pid);
        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>A logger factory that only counts log events by id (the sharing events 5000–5099); writes nothing.</summary>
internal sealed class EventCounter : ILoggerFactory, ILogger
{
    private readonly Dictionary<int, int> _counts = [];

    public Dictionary<string, int> Snapshot()
    {
        lock (_counts)
        {
            return _counts.OrderBy(p => p.Key).ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => p.Value);
        }
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_counts)
        {
            _counts[eventId.Id] = _counts.GetValueOrDefault(eventId.Id) + 1;
        }
    }
}
