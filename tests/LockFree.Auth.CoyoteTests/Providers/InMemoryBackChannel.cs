using System.Net;

namespace LockFree.Auth.CoyoteTests.Providers;

/// <summary>
/// The providers' back channel in the Coyote scenarios: every metadata, registration and token request goes straight to
/// a fake back end in this rewritten assembly, with no <see cref="HttpClient"/> in between, so Coyote controls every step
/// of an exchange (strict mode, exact replay; spec/coyote.md). It keeps the contract the providers rely on
/// (<see cref="IBackChannel"/>: the endpoint rule, the body read only for 200 on GET, the caller's cancellation); the
/// production <see cref="BackChannel"/>'s own rules (redirects, deadline, size limit) are covered by the unit tests.
/// </summary>
internal sealed class InMemoryBackChannel(IFakeEndpoints endpoints, TimeProvider timeProvider) : IBackChannel
{
    public TimeProvider TimeProvider { get; } = timeProvider;

    public async Task<BackChannelResponse> GetAsync(Uri endpoint, string purpose, CancellationToken cancellationToken)
    {
        OAuthEndpoint.Validate(endpoint, purpose);
        using var request = OAuthHttp.CreateRequest(HttpMethod.Get, endpoint);
        using var response = await endpoints.HandleAsync(request, cancellationToken);
        return response.StatusCode == HttpStatusCode.OK
            ? new BackChannelResponse(response.StatusCode, ReadBody(response.Content))
            : new BackChannelResponse(response.StatusCode, []);
    }

    public async Task<BackChannelResponse> SendAsync(HttpRequestMessage request, string purpose, CancellationToken cancellationToken)
    {
        OAuthEndpoint.Validate(request.RequestUri!, purpose);
        using var response = await endpoints.HandleAsync(request, cancellationToken);
        return new BackChannelResponse(response.StatusCode, ReadBody(response.Content));
    }

    /// <summary>Reads a body synchronously (the fakes' contents are in memory): no task of a foreign assembly is awaited.</summary>
    internal static byte[] ReadBody(HttpContent? content)
    {
        if (content is null)
        {
            return [];
        }

        using var stream = content.ReadAsStream();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>The body of a request as text, read synchronously.</summary>
    internal static string ReadText(HttpContent? content) => System.Text.Encoding.UTF8.GetString(ReadBody(content));
}

/// <summary>A fake back end: answers a request (the resource, metadata and token endpoints) from this rewritten assembly.</summary>
internal interface IFakeEndpoints
{
    Task<HttpResponseMessage> HandleAsync(HttpRequestMessage request, CancellationToken cancellationToken);

    /// <summary>Ends everything the back end started (responder tasks, pending responses) and asserts nothing is left.</summary>
    Task DrainAsync();
}
