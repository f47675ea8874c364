using System.Collections.Concurrent;
using System.Text.Json;

namespace LockFree.Cli.Storm;

/// <summary>Counts the protected resource's 401 responses as the client sees them on the wire (below the auth handler).</summary>
internal sealed class WireCounter(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private long _unauthorized;
    private long _sent;

    public long Unauthorized => Interlocked.Read(ref _unauthorized);

    public long Sent => Interlocked.Read(ref _sent);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _sent);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            Interlocked.Increment(ref _unauthorized);
        }

        return response;
    }
}
