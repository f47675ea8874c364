using System.Diagnostics;
using System.Net;
using System.Text.Json;
using LockFree.Auth;
using LockFree.Auth.OAuth;
using LockFree.Auth.Redis;
using StackExchange.Redis;

namespace LockFree.Cli.Replicas;

/// <summary>
/// What one replica process runs (the hidden <c>lockfree replica</c> command): the authorization server's base address
/// (the protected resource is <c>{Server}/mcp</c>), the Redis endpoint (null: no shared store, the baseline), the key
/// prefix, callers, duration, replica index, client ID and secret, the AES-GCM key of the shared payloads, and the seed:
/// the token set of the one sign-in every replica starts from (null: each replica signs in itself).
/// </summary>
internal sealed record ReplicaSettings(
    Uri Server, string? Redis, string Prefix, int Callers, TimeSpan Duration, int Replica, string ClientId, string ClientSecret, byte[]? Key,
    TokenContainer? Seed = null);

/// <summary>
/// One replica of a client-credentials client (issue 13): one <see cref="ClientOAuthProvider"/> for the resource,
/// sharing its tokens through a <see cref="RedisSharedTokenStore"/> when a Redis endpoint is given, with N callers
/// asking it for a token (paced like a request loop, 5 ms apart) for the duration. Counts its own token requests on
/// the back channel. <c>tests/LockFree.Auth.ReplicaHost</c> is the same loop for the library's own multi-process test.
/// </summary>
internal static class ReplicaProcess
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string Serialize(ReplicaReport report) => JsonSerializer.Serialize(report, Json);

    /// <summary>The seed token set as the storm hands it to a replica on its standard input (one line; it holds secrets).</summary>
    public static string SerializeSeed(TokenContainer seed) => JsonSerializer.Serialize(seed, Json);

    public static TokenContainer? DeserializeSeed(string? line)
    {
        try
        {
            return string.IsNullOrWhiteSpace(line) ? null : JsonSerializer.Deserialize<TokenContainer>(line, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static ReplicaReport? Deserialize(string line)
    {
        try
        {
            return JsonSerializer.Deserialize<ReplicaReport>(line, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static async Task<ReplicaReport> RunAsync(ReplicaSettings settings, CancellationToken cancellationToken)
    {
        ConnectionMultiplexer? redis = null;
        var options = new ClientOAuthOptions { GrantType = OAuthGrantType.ClientCredentials, ClientId = settings.ClientId, ClientSecret = settings.ClientSecret };
        if (settings.Seed is { } seed)
        {
            // Pods restored from one sign-in: every replica restores the same token set, so the same refresh token.
            options.TokenCache = new SeedTokenCache(seed);
        }

        if (settings.Redis is not null)
        {
            redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
            {
                EndPoints = { settings.Redis },
                AbortOnConnectFail = false,
                BacklogPolicy = BacklogPolicy.FailFast,
            });
            // Short-lived records: the storm may run against a Redis it did not start (--redis), which it leaves as it found it
            // (a random prefix, and every key gone at most 5 minutes after the run).
            var store = new RedisSharedTokenStore(redis, new RedisSharedTokenStoreOptions { KeyPrefix = settings.Prefix, RecordTimeToLive = settings.Duration + TimeSpan.FromMinutes(5) });
            options.SharedTokens = new TokenSharing(store, settings.ClientId, new SharedTokenOptions
            {
                Protector = new AesGcmSharedTokenProtector(settings.Key ?? throw new ArgumentException("A shared store needs a key.")),
            });
        }

        try
        {
            using var counter = new TokenRequestCounter(new SocketsHttpHandler { AllowAutoRedirect = false });
            using var http = new HttpClient(counter);
            using var provider = new ClientOAuthProvider(new Uri(settings.Server, "mcp"), options, http);
            long calls = 0;
            long failed = 0;
            string? firstError = null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var stopwatch = Stopwatch.StartNew();

            async Task CallerAsync()
            {
                string? last = null;
                while (stopwatch.Elapsed < settings.Duration && !cancellationToken.IsCancellationRequested)
                {
                    try
                    {
                        var tokens = await provider.GetTokensAsync(cancellationToken);
                        Interlocked.Increment(ref calls);
                        if (!ReferenceEquals(tokens.AccessToken, last))
                        {
                            last = tokens.AccessToken;
                            lock (seen)
                            {
                                seen.Add(last);
                            }
                        }
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception exception)
                    {
                        Interlocked.Increment(ref failed);
                        Interlocked.CompareExchange(ref firstError, exception.GetType().Name + ": " + exception.Message.Split('\n', 2)[0], null);
                    }

                    await Task.Delay(5, CancellationToken.None);
                }
            }

            await Task.WhenAll(Enumerable.Range(0, settings.Callers).Select(_ => Task.Run(CallerAsync, CancellationToken.None)));
            return new ReplicaReport
            {
                Replica = settings.Replica,
                Shared = redis is not null,
                Calls = Interlocked.Read(ref calls),
                Failed = Interlocked.Read(ref failed),
                Exchanges = counter.Exchanges,
                InvalidGrant = counter.InvalidGrant,
                DistinctTokens = seen.Count,
                FirstError = firstError,
            };
        }
        finally
        {
            if (redis is not null)
            {
                await redis.DisposeAsync();
            }
        }
    }

    /// <summary>The shared sign-in as a token cache: restored once by the provider; nothing is written back.</summary>
    private sealed class SeedTokenCache(TokenContainer seed) : ITokenCache
    {
        public ValueTask StoreTokensAsync(TokenContainer tokens, CancellationToken ct) => ValueTask.CompletedTask;

        public ValueTask<TokenContainer?> GetTokensAsync(CancellationToken ct) => ValueTask.FromResult<TokenContainer?>(seed);
    }

    /// <summary>Counts the token requests on the provider's back channel: issued tokens and <c>invalid_grant</c> answers.</summary>
    private sealed class TokenRequestCounter(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private long _exchanges;
        private long _invalidGrant;

        public long Exchanges => Interlocked.Read(ref _exchanges);

        public long InvalidGrant => Interlocked.Read(ref _invalidGrant);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.Method == HttpMethod.Post && request.RequestUri?.AbsolutePath.EndsWith("/token", StringComparison.Ordinal) == true)
            {
                if (response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref _exchanges);
                }
                else if (response.StatusCode == HttpStatusCode.BadRequest)
                {
                    await response.Content.LoadIntoBufferAsync(cancellationToken);
                    var body = await response.Content.ReadAsStringAsync(cancellationToken);
                    if (body.Contains("\"invalid_grant\"", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref _invalidGrant);
                    }
                }
            }

            return response;
        }
    }
}
