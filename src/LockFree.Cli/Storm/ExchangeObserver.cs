using System.Collections.Concurrent;
using System.Text.Json;

namespace LockFree.Cli.Storm;

/// <summary>
/// Sits on the back channel the providers talk to authorization servers through and records every token request
/// (a form POST with a <c>grant_type</c>): when, which grant, and the lifetime granted. Token values are never kept.
/// </summary>
/// <remarks>Concurrency: thread-safe; events go to a concurrent queue.</remarks>
internal sealed class ExchangeObserver(TimeProvider time, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private readonly ConcurrentQueue<ObservedExchange> _events = new();
    private long _backChannelRequests;

    /// <summary>Every token request so far.</summary>
    public IReadOnlyList<ObservedExchange> Events => [.. _events];

    /// <summary>Every request on the back channel (discovery included).</summary>
    public long BackChannelRequests => Interlocked.Read(ref _backChannelRequests);

    /// <summary>Token requests so far (cheap, for the live view).</summary>
    public int Count => _events.Count;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _backChannelRequests);
        string? grant = null;
        if (request.Method == HttpMethod.Post && request.Content is { } content
            && content.Headers.ContentType?.MediaType == "application/x-www-form-urlencoded")
        {
            await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            var form = await content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            grant = ReadGrantType(form);
        }

        if (grant is null)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var sent = time.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _events.Enqueue(new ObservedExchange(sent, grant, false, null));
            throw;
        }

        TimeSpan? expiresIn = null;
        if (response.IsSuccessStatusCode && response.Content is { } body)
        {
            await body.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            expiresIn = ReadExpiresIn(await body.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        }

        _events.Enqueue(new ObservedExchange(sent, grant, response.IsSuccessStatusCode, expiresIn));
        return response;
    }

    private static string? ReadGrantType(string form)
    {
        foreach (var pair in form.Split('&'))
        {
            if (pair.StartsWith("grant_type=", StringComparison.Ordinal))
            {
                return Uri.UnescapeDataString(pair["grant_type=".Length..].Replace('+', ' '));
            }
        }

        return null;
    }

    private static TimeSpan? ReadExpiresIn(byte[] json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("expires_in", out var e)
                && e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var seconds) && seconds > 0)
            {
                return TimeSpan.FromSeconds(seconds);
            }
        }
        catch (JsonException)
        {
            // Not JSON: the provider will report it; the observer only counts.
        }

        return null;
    }
}
