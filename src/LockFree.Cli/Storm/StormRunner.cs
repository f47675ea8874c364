using System.Collections.Concurrent;
using LockFree.Cli.Embedded;
using LockFree.Cli.Providers;

namespace LockFree.Cli.Storm;

/// <summary>
/// Runs one storm: starts the embedded servers (unless a real authority is given), drives N concurrent clients
/// through the provider's handler for the duration, and measures requests, 401s, exchanges, coalescing and latency.
/// </summary>
internal static class StormRunner
{
    private const int MaxErrorKinds = 20;
    private static readonly TimeSpan FailureBackoff = TimeSpan.FromMilliseconds(100);

    /// <summary>Runs the storm; <paramref name="monitor"/> shows progress and returns when the clients are done.</summary>
    public static async Task<StormResult> RunAsync(
        StormSettings settings,
        TimeProvider time,
        Func<StormLive, Task, Task> monitor,
        CancellationToken cancellationToken)
    {
        EmbeddedServer? server = null;
        if (settings.Embedded)
        {
            server = await EmbeddedServer.StartAsync(
                new EmbeddedServerSettings { TokenLifetime = settings.TokenLifetime, RevokeEvery = settings.RevokeEvery },
                time, cancellationToken);
        }

        try
        {
            var target = server is null
                ? new StormTarget(settings.Resource!, settings.Authority!, settings.ClientId!, settings.ClientSecret, settings.Scope,
                    settings.IdpTokenEndpoint, settings.IdpClientId, settings.IdpClientSecret, settings.IdToken)
                : new StormTarget(server.ResourceUri, new Uri(server.Issuer), server.Settings.ClientId, server.Settings.ClientSecret, "storm",
                    server.IdpTokenEndpoint, server.Settings.IdpClientId, server.Settings.IdpClientSecret, server.IdToken);
            return await RunCoreAsync(settings, target, server, time, monitor, cancellationToken);
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    private static async Task<StormResult> RunCoreAsync(
        StormSettings settings,
        StormTarget target,
        EmbeddedServer? server,
        TimeProvider time,
        Func<StormLive, Task, Task> monitor,
        CancellationToken cancellationToken)
    {
        using var meter = new AuthMeterListener(time);
        // The back channel never follows redirects (spec/security.md, B1): the library refuses them anyway, and the
        // ExchangeObserver above buffers request bodies, which an auto-redirecting handler could re-send elsewhere.
        using var backChannelSockets = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false };
        using var observer = new ExchangeObserver(time, backChannelSockets);
        using var wireSockets = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = Math.Max(settings.Clients, 2),
        };
        using var wire = new WireCounter(wireSockets);
        using var provider = settings.Login is { } login && server is not null
            ? new AuthorizationCodeStormProvider(target.Resource, server.Settings.LoginClientId, observer, time, login)
            : StormProviders.Create(settings.Provider, target, observer, time);
        using var client = new HttpClient(provider.CreateHandler(wire), disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };

        // lockfree login: the browser sign-in comes first; the storm's clock starts once the token is there.
        var signInStart = time.GetTimestamp();
        var signIn = await provider.SignInAsync(cancellationToken);
        var signInTime = time.GetElapsedTime(signInStart);

        var latencies = new List<long>[settings.Clients];
        var errors = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var start = time.GetTimestamp();
        var live = new StormLive(settings, provider.DisplayName, target.Resource, time, start,
            () => wire.Unauthorized,
            () => server is null ? ExchangesOf(observer.Events) : server.Counters.AccessTokensIssued,
            () => meter.CallersCoalesced,
            () => Account(settings, server, observer, meter, time, start, time.GetTimestamp()).Ideal?.Total);

        // Revocations stop before the end (by an eighth of the run, at most a second), so the exchange each one
        // causes still falls inside the run even on a loaded machine.
        var quietEnd = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, settings.Duration.Ticks / 8));
        server?.StartRevocations(start, settings.Duration - quietEnd);
        var workers = new Task[settings.Clients];
        for (var i = 0; i < workers.Length; i++)
        {
            var list = latencies[i] = new List<long>(1024);
            workers[i] = Task.Run(() => ClientLoopAsync(client, target.Resource, settings.Duration, time, start, list, live, errors, cancellationToken), CancellationToken.None);
        }

        var all = Task.WhenAll(workers);
        await monitor(live, all);
        await all;

        // The window ends here: exchanges and revocations are counted up to this instant.
        server?.StopRevocations();
        var end = time.GetTimestamp();
        var elapsed = time.GetElapsedTime(start, end);

        var result = BuildResult(settings, target, server, provider, time, start, end, elapsed, live, wire, observer, meter, latencies, errors,
            cancellationToken.IsCancellationRequested);
        if (signIn is null)
        {
            return result;
        }

        var counters = server?.Counters;
        return result with
        {
            Login = new LoginStats(Math.Round(signInTime.TotalSeconds, 3), signIn.Scope, signIn.RefreshToken,
                counters?.Login.LoginPages ?? 0, counters?.AuthorizationCodeGrants ?? 0, counters?.RefreshGrants ?? 0),
        };
    }

    private static async Task ClientLoopAsync(
        HttpClient client,
        Uri resource,
        TimeSpan duration,
        TimeProvider time,
        long start,
        List<long> latencies,
        StormLive live,
        ConcurrentDictionary<string, long> errors,
        CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested && time.GetElapsedTime(start) < duration)
        {
            var sent = time.GetTimestamp();
            string? error = null;
            try
            {
                using var response = await client.GetAsync(resource, HttpCompletionOption.ResponseContentRead, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    error = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                error = Describe(ex);
            }

            latencies.Add(time.GetTimestamp() - sent);
            live.Completed(error is not null);
            if (error is not null)
            {
                if (errors.Count < MaxErrorKinds || errors.ContainsKey(error))
                {
                    errors.AddOrUpdate(error, 1, static (_, n) => n + 1);
                }

                // A failing client backs off a little, so a misconfigured run does not hammer a real server.
                try
                {
                    await Task.Delay(FailureBackoff, time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    // Exception messages of the providers never carry token or secret values (their contract); keep the first line only.
    private static string Describe(Exception ex)
    {
        var message = ex.Message.Split('\n', 2)[0].Trim();
        if (message.Length > 160)
        {
            message = message[..160] + "…";
        }

        return $"{ex.GetType().Name}: {message}";
    }

    private static readonly string[] AccessTokenGrants = ["client_credentials", EmbeddedProtocol.JwtBearerGrant, "refresh_token", "authorization_code"];

    private static long ExchangesOf(IEnumerable<ObservedExchange> events) =>
        events.LongCount(e => AccessTokenGrants.Contains(e.GrantType, StringComparer.Ordinal));

    private static StormResult BuildResult(
        StormSettings settings,
        StormTarget target,
        EmbeddedServer? server,
        IStormProvider provider,
        TimeProvider time,
        long start,
        long end,
        TimeSpan elapsed,
        StormLive live,
        WireCounter wire,
        ExchangeObserver observer,
        AuthMeterListener meter,
        List<long>[] latencies,
        ConcurrentDictionary<string, long> errors,
        bool interrupted)
    {
        var events = observer.Events.Where(e => e.Timestamp <= end).ToList();
        var byGrant = events.GroupBy(e => ShortGrant(e.GrantType)).ToDictionary(g => g.Key, g => g.LongCount(), StringComparer.Ordinal);

        var (exchanges, firstExchange, lifetime, revocations, idpExchanges, interval, ideal) = Account(settings, server, observer, meter, time, start, end);

        var all = new List<long>(latencies.Sum(l => l.Count));
        foreach (var list in latencies)
        {
            all.AddRange(list);
        }

        all.Sort();
        var counters = server?.Counters;
        var requests = live.Requests;
        var failed = live.Failed;
        var failures = new List<string>();
        if (requests == 0)
        {
            failures.Add("no request completed");
        }

        if (failed > 0)
        {
            failures.Add($"{failed:N0} request(s) failed");
        }

        if (ideal is null)
        {
            failures.Add("the ideal exchange count is unknown (no token with an expires_in was obtained)");
        }
        else if (exchanges > ideal.Value.Total)
        {
            failures.Add($"{exchanges:N0} token exchanges exceed the ideal of {ideal.Value.Total:N0}");
        }
        else if (idpExchanges is { } idp && idp > ideal.Value.Total)
        {
            failures.Add($"{idp:N0} IdP token exchanges exceed the ideal of {ideal.Value.Total:N0}");
        }

        return new StormResult
        {
            Provider = settings.Provider,
            ProviderDescription = provider.DisplayName,
            Mode = server is null ? "external" : "embedded",
            Resource = target.Resource.ToString(),
            Clients = settings.Clients,
            DurationSeconds = Math.Round(elapsed.TotalSeconds, 3),
            Interrupted = interrupted,
            Requests = new RequestStats(requests, requests - failed, failed, Math.Round(requests / Math.Max(elapsed.TotalSeconds, 1e-3), 1)),
            Unauthorized = new UnauthorizedStats(wire.Unauthorized, counters?.Challenges, counters?.RevokedRejections, counters?.ExpiredRejections, counters?.UnknownRejections),
            Exchanges = new ExchangeStats
            {
                Total = exchanges,
                Ideal = ideal?.Total,
                IdealInitial = ideal?.Initial ?? 0,
                IdealRefreshes = ideal?.Refreshes ?? 0,
                IdealRevocations = ideal?.Revocations ?? 0,
                TokenLifetimeSeconds = lifetime?.TotalSeconds,
                RefreshIntervalSeconds = interval?.TotalSeconds,
                LifetimesElapsed = lifetime is { } life && firstExchange is { } first && life > TimeSpan.Zero
                    ? Math.Round(time.GetElapsedTime(first, end) / life, 2)
                    : null,
                Revocations = revocations.Count,
                IdpTokenExchanges = idpExchanges,
                IdTokenCallbacks = provider.IdTokenCallbacks,
                Reasons = counters?.IssueReasons,
                ByGrantType = byGrant,
            },
            Meter = new MeterStats(meter.AcquisitionsStarted, meter.CallersCoalesced, meter.Invalidations, meter.Failures, meter.Discarded, meter.AcquisitionsByCoordinator),
            LatencyMs = new LatencyStats(
                Percentile(all, 0.50, time),
                Percentile(all, 0.99, time),
                all.Count == 0 ? 0 : Ms(all[^1], time),
                all.Count == 0 ? 0 : Math.Round(Ms((long)all.Average(), time), 2)),
            Errors = [.. errors.OrderByDescending(e => e.Value).Select(e => new ErrorCount(e.Key, e.Value))],
            Failures = failures,
        };
    }

    private readonly record struct Accounting(
        long Exchanges,
        long? FirstExchange,
        TimeSpan? Lifetime,
        List<TimeSpan> Revocations,
        long? IdpExchanges,
        TimeSpan? Interval,
        IdealBreakdown? Ideal);

    // Exchanges and the ideal up to `end`: from the embedded server's own records, or (external) from the back
    // channel (token requests, expires_in) and the meter (rejections of the current token).
    private static Accounting Account(StormSettings settings, EmbeddedServer? server, ExchangeObserver observer, AuthMeterListener meter, TimeProvider time, long start, long end)
    {
        var events = observer.Events.Where(e => e.Timestamp <= end).ToList();
        long exchanges;
        long? firstExchange;
        TimeSpan? lifetime;
        List<TimeSpan> revocations;
        if (server is not null)
        {
            var issued = server.IssueTimestamps.Where(t => t <= end).ToList();
            exchanges = issued.Count;
            firstExchange = issued.Count > 0 ? issued.Min() : null;
            lifetime = server.Settings.TokenLifetime;
            revocations = [.. server.RevocationTimestamps.Where(t => t <= end).Select(t => time.GetElapsedTime(start, t))];
        }
        else
        {
            var granted = events.Where(e => AccessTokenGrants.Contains(e.GrantType, StringComparer.Ordinal)).ToList();
            exchanges = granted.Count;
            firstExchange = granted.Count > 0 ? granted.Min(e => e.Timestamp) : null;
            // The access token's lifetime: the IdP's token-exchange response (the ID-JAG's expires_in) does not count.
            lifetime = granted.FirstOrDefault(e => e.Succeeded && e.ExpiresIn is not null).ExpiresIn;
            revocations = [.. meter.InvalidationTimestamps.Where(t => t <= end).Select(t => time.GetElapsedTime(start, t))];
        }

        long? idpExchanges = settings.Provider == StormProviders.CrossApp
            ? events.LongCount(e => e.GrantType == EmbeddedProtocol.TokenExchangeGrant)
            : null;
        TimeSpan? interval = lifetime is { } l ? IdealExchanges.RefreshInterval(l) : null;
        IdealBreakdown? ideal = interval is { } i && i > TimeSpan.Zero && firstExchange is { } f
            ? IdealExchanges.Compute(time.GetElapsedTime(start, f), time.GetElapsedTime(start, end), i, revocations)
            : null;
        return new Accounting(exchanges, firstExchange, lifetime, revocations, idpExchanges, interval, ideal);
    }

    private static string ShortGrant(string grant) => grant switch
    {
        EmbeddedProtocol.TokenExchangeGrant => "token-exchange",
        EmbeddedProtocol.JwtBearerGrant => "jwt-bearer",
        _ => grant,
    };

    private static double Percentile(List<long> sorted, double p, TimeProvider time)
    {
        if (sorted.Count == 0)
        {
            return 0;
        }

        var index = (int)Math.Ceiling(p * sorted.Count) - 1;
        return Ms(sorted[Math.Clamp(index, 0, sorted.Count - 1)], time);
    }

    private static double Ms(long ticks, TimeProvider time) => Math.Round(ticks * 1000.0 / time.TimestampFrequency, 2);
}
