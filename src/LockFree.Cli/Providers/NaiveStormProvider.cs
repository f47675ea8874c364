using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace LockFree.Cli.Providers;

/// <summary>
/// The baseline LockFree exists to replace: a token cached in a plain field, no coalescing. Every caller that finds
/// no usable token (cold start, expiry, a 401) fetches its own, so a storm makes many redundant exchanges and the
/// run fails its ideal check. <c>--provider naive</c> shows what the check catches.
/// </summary>
/// <remarks>Concurrency: deliberately racy (last writer wins), never blocking.</remarks>
internal sealed class NaiveStormProvider : IStormProvider
{
    private readonly StormTarget _target;
    private readonly HttpClient _backChannel;
    private readonly TimeProvider _time;
    private Uri? _tokenEndpoint;
    private Cached? _cached;

    public NaiveStormProvider(StormTarget target, HttpMessageHandler backChannel, TimeProvider time)
    {
        _target = target;
        _time = time;
        _backChannel = new HttpClient(backChannel, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
    }

    public string DisplayName => "a naive cache without coalescing (baseline; expected to fail)";

    public HttpMessageHandler CreateHandler(HttpMessageHandler wire) => new Handler(this, wire);

    public void Dispose() => _backChannel.Dispose();

    private async Task<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        var cached = Volatile.Read(ref _cached);
        if (cached is not null && _time.GetUtcNow() < cached.UsableUntil)
        {
            return cached.AccessToken;
        }

        return await FetchAsync(cancellationToken);
    }

    private async Task<string> FetchAsync(CancellationToken cancellationToken)
    {
        var endpoint = Volatile.Read(ref _tokenEndpoint) ?? await DiscoverAsync(cancellationToken);
        var started = _time.GetUtcNow();
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new FormUrlEncodedContent([new("grant_type", "client_credentials")]),
        };
        var credentials = Uri.EscapeDataString(_target.ClientId) + ":" + Uri.EscapeDataString(_target.ClientSecret ?? string.Empty);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(credentials)));
        using var response = await _backChannel.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
        var token = doc.RootElement.GetProperty("access_token").GetString() ?? throw new HttpRequestException("The token response has no access_token.");
        var lifetime = doc.RootElement.TryGetProperty("expires_in", out var e) && e.TryGetDouble(out var s) ? TimeSpan.FromSeconds(s) : TimeSpan.FromMinutes(5);
        Volatile.Write(ref _cached, new Cached(token, started + (lifetime * 0.9)));
        return token;
    }

    private async Task<Uri> DiscoverAsync(CancellationToken cancellationToken)
    {
        var url = new Uri(_target.Authority.ToString().TrimEnd('/') + "/.well-known/oauth-authorization-server");
        using var doc = JsonDocument.Parse(await _backChannel.GetByteArrayAsync(url, cancellationToken));
        var endpoint = new Uri(doc.RootElement.GetProperty("token_endpoint").GetString()!);
        Volatile.Write(ref _tokenEndpoint, endpoint);
        return endpoint;
    }

    private sealed record Cached(string AccessToken, DateTimeOffset UsableUntil);

    private sealed class Handler(NaiveStormProvider owner, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await owner.GetTokenAsync(cancellationToken));
            var response = await base.SendAsync(request, cancellationToken);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                return response;
            }

            // Every rejected caller fetches its own replacement: the redundant exchanges LockFree coalesces away.
            response.Dispose();
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await owner.FetchAsync(cancellationToken));
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
