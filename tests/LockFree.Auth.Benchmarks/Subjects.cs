using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Sdk = ModelContextProtocol.Authentication;

namespace LockFree.Auth.Benchmarks;

/// <summary>The two sides of a comparison.</summary>
internal enum Side
{
    /// <summary>NuGet ModelContextProtocol.Core 2.4.0 (SemaphoreSlim-based).</summary>
    Sdk,

    /// <summary>This repository (lock-free).</summary>
    Ours,
}

/// <summary>
/// One cross-app-access provider behind a uniform surface, wired to its own <see cref="SimulatedEndpoints"/>.
/// A new subject is created for every repetition so no state leaks between repetitions.
/// </summary>
internal abstract class CrossAppSubject : IDisposable
{
    public static readonly Uri Resource = new(SimulatedEndpoints.ResourceUrl);
    public static readonly Uri AuthorizationServer = new(SimulatedEndpoints.Issuer);

    private DateTimeOffset _expiresAtRealTime;

    protected CrossAppSubject(TimeSpan hopLatency)
    {
        Endpoints = new SimulatedEndpoints(hopLatency);
        Http = new HttpClient(Endpoints, disposeHandler: false);
    }

    public SimulatedEndpoints Endpoints { get; }

    protected HttpClient Http { get; }

    public abstract Task<string> GetTokenAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// N callers, each a thread-pool work item calling the provider's own <c>GetAccessTokenAsync</c> directly (no
    /// adapter in between, so the harness adds as little per-caller work as possible). Returns the time from
    /// <paramref name="start"/> until every caller completed, the distinct access tokens and the failures.
    /// </summary>
    public virtual async Task<(double Ms, int Distinct, int Errors)> StormAsync(int n, long start)
    {
        var callers = new Task<string>[n];
        for (var c = 0; c < n; c++)
        {
            callers[c] = Task.Run(() => GetTokenAsync());
        }

        return await CompleteAsync(callers, start, static t => t).ConfigureAwait(false);
    }

    protected static async Task<(double Ms, int Distinct, int Errors)> CompleteAsync<TToken>(Task<TToken>[] callers, long start, Func<TToken, string> accessToken)
    {
        try
        {
            await Task.WhenAll(callers).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Counted below, per caller.
        }

        var ms = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var tokens = new HashSet<string>(StringComparer.Ordinal);
        var errors = 0;
        foreach (var caller in callers)
        {
            if (caller.IsCompletedSuccessfully)
            {
                tokens.Add(accessToken(caller.Result));
            }
            else
            {
                errors++;
            }
        }

        return (ms, tokens.Count, errors);
    }

    /// <summary>2.4.0: <c>InvalidateCache()</c>; ours: <c>InvalidateCache()</c>.</summary>
    public abstract void InvalidateAll();

    /// <summary>What a handler does after a 401 for <paramref name="rejectedAccessToken"/>. 2.4.0 has only <c>InvalidateCache()</c>.</summary>
    public abstract void InvalidateRejected(string rejectedAccessToken);

    /// <summary>Sends one request to the protected resource with <paramref name="accessToken"/>; false on a 401.</summary>
    public async Task<bool> CallResourceAsync(string accessToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Resource);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await Http.SendAsync(request).ConfigureAwait(false);
        return response.StatusCode != System.Net.HttpStatusCode.Unauthorized;
    }

    /// <summary>Gets a token that expires one second later, then sets the AS back to long-lived tokens.</summary>
    public async Task<string> WarmWithShortLivedTokenAsync()
    {
        Endpoints.TokenLifetimeSeconds = 1;
        var token = await GetTokenAsync().ConfigureAwait(false);
        _expiresAtRealTime = DateTimeOffset.UtcNow.AddSeconds(1);
        Endpoints.TokenLifetimeSeconds = 3600;
        return token;
    }

    /// <summary>Makes the short-lived token of <see cref="WarmWithShortLivedTokenAsync"/> expired.</summary>
    public virtual async Task ExpireAsync()
    {
        // 2.4.0 reads the system clock: wait until the token really expired (plus a margin).
        var remaining = _expiresAtRealTime.AddMilliseconds(60) - DateTimeOffset.UtcNow;
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining).ConfigureAwait(false);
        }
    }

    public virtual void Dispose()
    {
        Http.Dispose();
        Endpoints.Dispose();
    }

    public static CrossAppSubject Create(Side side, TimeSpan hopLatency) => side switch
    {
        Side.Sdk => new SdkCrossAppSubject(hopLatency),
#if HAS_CROSSAPP
        Side.Ours => new OursCrossAppSubject(hopLatency),
#else
        Side.Ours => new CoreCrossAppSubject(hopLatency),
#endif
        _ => throw new ArgumentOutOfRangeException(nameof(side)),
    };

    /// <summary>What the "ours" column measures in this build.</summary>
    public static string OursDescription =>
#if HAS_CROSSAPP
        "LockFree.Auth CrossApplicationAccessProvider";
#else
        "LockFree.Auth state core (AuthCoordinator) driving the same 3-hop flow (CrossApplicationAccessProvider not on main yet)";
#endif
}

/// <summary>ModelContextProtocol.Core 2.4.0 <c>IdentityAssertionGrantProvider</c>.</summary>
internal sealed class SdkCrossAppSubject : CrossAppSubject
{
    public SdkCrossAppSubject(TimeSpan hopLatency)
        : base(hopLatency)
    {
        Provider = new Sdk.IdentityAssertionGrantProvider(
            new Sdk.IdentityAssertionGrantProviderOptions
            {
                ClientId = "mcp-client",
                IdpTokenEndpoint = SimulatedEndpoints.IdpTokenEndpoint,
                IdpClientId = "idp-client",
                IdTokenCallback = static (_, _) => Task.FromResult("id-token.simulated"),
            },
            Http);
    }

    public Sdk.IdentityAssertionGrantProvider Provider { get; }

    public override async Task<string> GetTokenAsync(CancellationToken cancellationToken = default) =>
        (await Provider.GetAccessTokenAsync(Resource, AuthorizationServer, cancellationToken).ConfigureAwait(false)).AccessToken;

    public override Task<(double Ms, int Distinct, int Errors)> StormAsync(int n, long start)
    {
        var callers = new Task<Sdk.TokenContainer>[n];
        for (var c = 0; c < n; c++)
        {
            callers[c] = Task.Run(() => Provider.GetAccessTokenAsync(Resource, AuthorizationServer, default));
        }

        return CompleteAsync(callers, start, static t => t.AccessToken);
    }

    public override void InvalidateAll() => Provider.InvalidateCache();

    public override void InvalidateRejected(string rejectedAccessToken) => Provider.InvalidateCache();
}

/// <summary>
/// Stand-in used until <c>CrossApplicationAccessProvider</c> is on main: the state core (one coordinator for the
/// AS metadata, one for the token) driving the same three hops as the provider.
/// </summary>
internal sealed class CoreCrossAppSubject : CrossAppSubject
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly AuthCoordinator<string> _metadata;
    private readonly AuthCoordinator<TokenContainer> _tokens;

    public CoreCrossAppSubject(TimeSpan hopLatency)
        : base(hopLatency)
    {
        _metadata = new AuthCoordinator<string>((_, ct) => FetchTokenEndpointAsync(ct), timeProvider: _time);
        _tokens = new AuthCoordinator<TokenContainer>(ExchangeAsync, static t => t.ExpiresAt, _time);
    }

    public override async Task<string> GetTokenAsync(CancellationToken cancellationToken = default) =>
        (await _tokens.GetAsync(cancellationToken).ConfigureAwait(false)).AccessToken;

    public override void InvalidateAll()
    {
        _tokens.Invalidate();
        _metadata.Invalidate();
    }

    public override void InvalidateRejected(string rejectedAccessToken) =>
        _tokens.Invalidate(static (t, rejected) => string.Equals(t.AccessToken, rejected, StringComparison.Ordinal), rejectedAccessToken);

    public override Task ExpireAsync()
    {
        _time.Advance(TimeSpan.FromSeconds(2));
        return Task.CompletedTask;
    }

    public override void Dispose()
    {
        _tokens.Dispose();
        _metadata.Dispose();
        base.Dispose();
    }

    private async Task<string> FetchTokenEndpointAsync(CancellationToken cancellationToken)
    {
        using var response = await Http.GetAsync(new Uri(SimulatedEndpoints.Issuer + "/.well-known/oauth-authorization-server"), cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        return doc.RootElement.GetProperty("token_endpoint").GetString()!;
    }

    private async Task<TokenContainer> ExchangeAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        var tokenEndpoint = await _metadata.GetAsync(cancellationToken).ConfigureAwait(false);
        string jag;
        using (var idp = await PostAsync(SimulatedEndpoints.IdpTokenEndpoint,
            $"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=id-token&client_id=idp-client", cancellationToken).ConfigureAwait(false))
        {
            jag = idp.RootElement.GetProperty("access_token").GetString()!;
        }

        using var at = await PostAsync(tokenEndpoint,
            $"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={Uri.EscapeDataString(jag)}&client_id=mcp-client", cancellationToken).ConfigureAwait(false);
        return new TokenContainer
        {
            AccessToken = at.RootElement.GetProperty("access_token").GetString()!,
            ExpiresIn = TimeSpan.FromSeconds(at.RootElement.GetProperty("expires_in").GetInt32()),
            ObtainedAt = _time.GetUtcNow(),
        };
    }

    private async Task<JsonDocument> PostAsync(string url, string form, CancellationToken cancellationToken)
    {
        using var content = new StringContent(form, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        using var response = await Http.PostAsync(new Uri(url), content, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
    }
}

#if HAS_CROSSAPP
/// <summary>LockFree.Auth <c>CrossApplicationAccessProvider</c> on a fake clock (so expiry can be forced instantly).</summary>
internal sealed class OursCrossAppSubject : CrossAppSubject
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    public OursCrossAppSubject(TimeSpan hopLatency)
        : base(hopLatency)
    {
        Provider = CreateProvider(Http, _time);
    }

    public CrossApplicationAccessProvider Provider { get; }

    public static CrossApplicationAccessProvider CreateProvider(HttpClient http, TimeProvider? time) =>
        new(new CrossApplicationAccessProviderOptions
        {
            ClientId = "mcp-client",
            IdpTokenEndpoint = SimulatedEndpoints.IdpTokenEndpoint,
            IdpClientId = "idp-client",
            IdTokenCallback = static (_, _) => Task.FromResult("id-token.simulated"),
        },
        http,
        loggerFactory: null,
        timeProvider: time);

    public override async Task<string> GetTokenAsync(CancellationToken cancellationToken = default) =>
        (await Provider.GetAccessTokenAsync(Resource, AuthorizationServer, cancellationToken).ConfigureAwait(false)).AccessToken;

    public override Task<(double Ms, int Distinct, int Errors)> StormAsync(int n, long start)
    {
        var callers = new Task<TokenContainer>[n];
        for (var c = 0; c < n; c++)
        {
            callers[c] = Task.Run(() => Provider.GetAccessTokenAsync(Resource, AuthorizationServer));
        }

        return CompleteAsync(callers, start, static t => t.AccessToken);
    }

    public override void InvalidateAll() => Provider.InvalidateCache();

    public override void InvalidateRejected(string rejectedAccessToken) => Provider.InvalidateCache(rejectedAccessToken);

    public override Task ExpireAsync()
    {
        _time.Advance(TimeSpan.FromSeconds(2));
        return Task.CompletedTask;
    }

    public override void Dispose()
    {
        Provider.Dispose();
        base.Dispose();
    }
}
#endif
