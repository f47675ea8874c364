namespace LockFree.Auth.Protocol;

/// <summary>
/// The back channel as its users see it: every metadata, registration and token request of the providers goes through
/// one of these. Production: <see cref="BackChannel"/> over the application's <see cref="HttpClient"/>. The Coyote suite
/// supplies an in-memory fake of the endpoints (rewritten, so Coyote controls every step of an exchange and a provider
/// scenario replays exactly; spec/coyote.md).
/// </summary>
internal interface IBackChannel
{
    /// <summary>The clock of the deadline (and of the components that use this back channel).</summary>
    TimeProvider TimeProvider { get; }

    /// <summary>GETs <paramref name="endpoint"/> accepting JSON; the body is read only for <c>200 OK</c>.</summary>
    /// <param name="endpoint">The document's location.</param>
    /// <param name="purpose">What the endpoint is, for messages.</param>
    /// <param name="cancellationToken">The caller's cancellation.</param>
    /// <returns>The status and the body (empty unless the status is 200).</returns>
    Task<BackChannelResponse> GetAsync(Uri endpoint, string purpose, CancellationToken cancellationToken);

    /// <summary>Sends <paramref name="request"/> (owned by the caller) and reads the whole body whatever the status.</summary>
    /// <param name="request">The request; its URI must be absolute.</param>
    /// <param name="purpose">What the endpoint is, for messages.</param>
    /// <param name="cancellationToken">The caller's cancellation.</param>
    /// <returns>The status and the body.</returns>
    Task<BackChannelResponse> SendAsync(HttpRequestMessage request, string purpose, CancellationToken cancellationToken);
}
