using LockFree.Auth.Protocol;
using Microsoft.Extensions.Logging;

namespace LockFree.Auth.ClientCredentials;

/// <summary>
/// A back channel that takes a new <see cref="HttpClient"/> from a factory for every request, so a client handed out by
/// an <c>IHttpClientFactory</c> is never kept beyond one request (its handlers rotate as the factory intends), and
/// otherwise behaves exactly like <see cref="BackChannel"/> (endpoint rule, no redirects, size and time bounds).
/// </summary>
/// <remarks>Concurrency: immutable; the factory must be safe to call concurrently (an <c>IHttpClientFactory</c> is).</remarks>
internal sealed class PerCallBackChannel : IBackChannel
{
    private readonly Func<HttpClient> _httpClient;
    private readonly int _maxResponseBytes;
    private readonly TimeSpan _timeout;
    private readonly ILogger? _logger;

    internal PerCallBackChannel(Func<HttpClient> httpClient, TimeProvider timeProvider, int maxResponseBytes, TimeSpan timeout, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _httpClient = httpClient;
        _maxResponseBytes = maxResponseBytes;
        _timeout = timeout;
        _logger = logger;
        TimeProvider = timeProvider;
    }

    public TimeProvider TimeProvider { get; }

    public Task<BackChannelResponse> GetAsync(Uri endpoint, string purpose, CancellationToken cancellationToken) =>
        Create().GetAsync(endpoint, purpose, cancellationToken);

    public Task<BackChannelResponse> SendAsync(HttpRequestMessage request, string purpose, CancellationToken cancellationToken) =>
        Create().SendAsync(request, purpose, cancellationToken);

    // Not disposed: a factory's HttpClient owns nothing worth disposing (its handler belongs to the factory), and a
    // shared client handed in by the user is the user's.
    private BackChannel Create() =>
        new(_httpClient() ?? throw new InvalidOperationException("The back-channel HttpClient factory returned null."), TimeProvider, _maxResponseBytes, _timeout, _logger);
}
