using System.Net;

namespace LockFree.Auth.Protocol;

/// <summary>
/// Request content that is written only while its request still targets the URI it was created for. A handler that
/// follows a <c>307</c>/<c>308</c> re-sends the same request object with another <see cref="HttpRequestMessage.RequestUri"/>:
/// serializing this content then fails before a single byte is written, so the body (client secrets, codes,
/// verifiers, refresh tokens, assertions) never reaches the redirect target. A retry to the same URI (a connection
/// that closed before the response) still works.
/// </summary>
/// <remarks>
/// Limitation: once content is buffered (<see cref="HttpContent.LoadIntoBufferAsync()"/>, for example by a logging
/// handler that reads it), .NET copies the buffer without serializing again, so the check no longer runs.
/// Concurrency: the bytes are immutable; <see cref="Refused"/> is written once with a volatile store and may be read
/// from any thread.
/// </remarks>
internal sealed class SingleTargetContent : HttpContent
{
    private readonly byte[] _bytes;
    private readonly HttpRequestMessage _request;
    private readonly string _target;
    private volatile bool _refused;

    private SingleTargetContent(byte[] bytes, HttpRequestMessage request, Uri target)
    {
        _bytes = bytes;
        _request = request;
        _target = target.AbsoluteUri;
    }

    /// <summary>Whether a serialization was refused because the request had been redirected to another URI.</summary>
    internal bool Refused => _refused;

    /// <summary>A copy of <paramref name="original"/> (bytes and content headers) bound to <paramref name="request"/> targeting <paramref name="target"/>.</summary>
    internal static async Task<SingleTargetContent> CreateAsync(HttpRequestMessage request, Uri target, HttpContent original, CancellationToken cancellationToken)
    {
        var bytes = await original.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var content = new SingleTargetContent(bytes, request, target);
        foreach (var header in original.Headers)
        {
            if (!header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        return content;
    }

    /// <inheritdoc />
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    /// <inheritdoc />
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        EnsureTarget();
        return stream.WriteAsync(_bytes, cancellationToken).AsTask();
    }

    /// <inheritdoc />
    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        EnsureTarget();
        stream.Write(_bytes);
    }

    /// <inheritdoc />
    protected override bool TryComputeLength(out long length)
    {
        length = _bytes.Length;
        return true;
    }

    /// <summary>Describes the content by length only (it holds secrets).</summary>
    public override string ToString() => $"SingleTargetContent {{ {_bytes.Length} bytes }}";

    private void EnsureTarget()
    {
        if (_request.RequestUri is not { } current || !string.Equals(current.AbsoluteUri, _target, StringComparison.Ordinal))
        {
            _refused = true;
            throw new HttpRequestException("The request body is not re-sent to another URI (redirects are not followed on the back channel).");
        }
    }
}
