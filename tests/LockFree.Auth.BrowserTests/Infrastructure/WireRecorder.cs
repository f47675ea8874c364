using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace LockFree.Auth.BrowserTests.Infrastructure;

/// <summary>
/// Sits between <see cref="ClientOAuthHandler"/> and the socket: counts what the MCP server answered, per JSON-RPC
/// method (200, 401, anything else), and when the first 200 arrived.
/// </summary>
internal sealed partial class WireRecorder(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private readonly ConcurrentDictionary<string, int[]> _byMethod = new(StringComparer.Ordinal);
    private int _unauthorized;
    private int _other;
    private long _firstOk;

    public int Unauthorized => Volatile.Read(ref _unauthorized);

    /// <summary>Responses that were neither 200/202 nor 401.</summary>
    public int Other => Volatile.Read(ref _other);

    /// <summary>The <see cref="Stopwatch"/> timestamp of the first 200, or 0.</summary>
    public long FirstOk => Interlocked.Read(ref _firstOk);

    /// <summary>200 responses to requests with this JSON-RPC method (e.g. <c>server/discover</c>, <c>initialize</c>, <c>tools/call</c>).</summary>
    public int Ok(string method) => _byMethod.TryGetValue(method, out var c) ? Volatile.Read(ref c[0]) : 0;

    public string Describe() => string.Join(", ", _byMethod.OrderBy(p => p.Key).Select(p => $"{p.Key}: {p.Value[0]} x 200, {p.Value[1]} x 401"));

    [GeneratedRegex("\"method\":\"([^\"]+)\"")]
    private static partial Regex Method();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is { } content ? await content.ReadAsStringAsync(cancellationToken) : string.Empty;
        var method = Method().Match(body) is { Success: true } m ? m.Groups[1].Value : request.Method.Method;
        var counts = _byMethod.GetOrAdd(method, _ => new int[2]);
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.OK)
        {
            Interlocked.CompareExchange(ref _firstOk, Stopwatch.GetTimestamp(), 0);
            Interlocked.Increment(ref counts[0]);
        }
        else if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            Interlocked.Increment(ref _unauthorized);
            Interlocked.Increment(ref counts[1]);
        }
        else if (response.StatusCode != HttpStatusCode.Accepted)
        {
            Interlocked.Increment(ref _other);
        }

        return response;
    }
}
