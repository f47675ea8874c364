using System.Collections.Concurrent;
using System.Net;

namespace LockFree.Auth.Tests.Security;

/// <summary>Passes requests on and records every response it returns, so a test can check which were disposed.</summary>
internal sealed class ResponseTrackingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private readonly ConcurrentQueue<TrackedContent> _contents = new();

    public IReadOnlyList<TrackedContent> Responses => [.. _contents];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var tracked = new TrackedContent(response.StatusCode, response.Content);
        response.Content = tracked;
        _contents.Enqueue(tracked);
        return response;
    }
}

/// <summary>Content that remembers whether it was disposed (disposing a response disposes its content).</summary>
internal sealed class TrackedContent(HttpStatusCode status, HttpContent inner) : HttpContent
{
    private int _disposed;

    public HttpStatusCode Status { get; } = status;

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => inner.CopyToAsync(stream);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Volatile.Write(ref _disposed, 1);
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
