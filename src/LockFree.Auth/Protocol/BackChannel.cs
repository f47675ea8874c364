using LockFree.Auth.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging;
using System.Net;

namespace LockFree.Auth.Protocol;

/// <summary>The outcome of one back-channel request: the status and the body read (bounded).</summary>
/// <param name="StatusCode">The HTTP status of the response (never a redirect: those fail).</param>
/// <param name="Body">The whole body; empty when none was sent, or when <see cref="BackChannel.GetAsync"/> did not read it (status other than 200).</param>
internal readonly record struct BackChannelResponse(HttpStatusCode StatusCode, byte[] Body)
{
    /// <summary>The <c>DPoP-Nonce</c> header of the response (RFC 9449 §8), if any.</summary>
    internal string? DPoPNonce { get; init; }

    /// <summary>Describes the response by status and body length (a body may hold tokens).</summary>
    public override string ToString() => $"BackChannelResponse {{ StatusCode = {(int)StatusCode}, Body = {Body.Length} bytes }}";
}

/// <summary>
/// The one way LockFree.Auth talks to metadata, registration and token endpoints (the back channel): every request
/// goes through <see cref="GetAsync"/> or <see cref="SendAsync"/>, which apply the endpoint rule, refuse redirects and
/// bound the whole exchange in size and time.
/// </summary>
/// <remarks>
/// <para>
/// Endpoint rule: every request URI must pass <see cref="OAuthEndpoint.Validate"/> (https, or plain http only to a
/// loopback host; no fragment, no user information), whatever it came from (configuration, metadata, a challenge).
/// </para>
/// <para>
/// Redirects are never followed, whatever the <see cref="HttpClient"/>'s handler does: a <c>3xx</c> response fails with
/// <see cref="OAuthFailureReason.RedirectRefused"/> without looking at its <c>Location</c>; a response whose request
/// URI is no longer the one sent (the handler followed a redirect) fails the same way and its body is not read; and
/// request content is re-serialized only while its request still targets the URI it was created for, so a handler
/// that re-sends a <c>307</c>/<c>308</c> to another URI fails before any byte of the body (client secrets, codes,
/// verifiers, refresh tokens, assertions) is written. The <c>Authorization</c> header is not protected by this class:
/// .NET's redirect handler removes it before following a redirect (see <c>tests/LockFree.Auth.Tests/Security</c>).
/// A <see cref="DelegatingHandler"/> that buffers the request content (for example to log it) before an
/// auto-redirecting handler defeats the content guard, because buffered content is re-sent without being
/// serialized again; the response is still refused.
/// </para>
/// <para>
/// Deadline: one operation (sending, the response headers and the whole body) must complete within
/// <see cref="Timeout"/>, measured on the injected <see cref="System.TimeProvider"/>; otherwise it fails with
/// <see cref="OAuthFailureReason.Unreachable"/>. The caller's cancellation still surfaces as
/// <see cref="OperationCanceledException"/>.
/// </para>
/// <para>Concurrency: immutable; one instance serves concurrent requests of every provider component.</para>
/// </remarks>
internal sealed class BackChannel : IBackChannel
{
    /// <summary>The deadline of one operation when none is configured: 30 seconds.</summary>
    internal static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The longest accepted deadline: 10 minutes.</summary>
    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(10);

    private const int ChunkBytes = 16 * 1024;

    private readonly HttpClient _http;

    // Debug events of every request (Log.Protocol, 2000–2099); NullLogger when none was given.
    private readonly ILogger _logger;

    /// <summary>Creates the back channel over <paramref name="httpClient"/> (not disposed by it).</summary>
    /// <param name="httpClient">The application's client; its handler may follow redirects, this class refuses them anyway.</param>
    /// <param name="timeProvider">The clock of the deadline.</param>
    /// <param name="maxResponseBytes">The largest response body accepted.</param>
    /// <param name="timeout">The deadline of one operation; <see cref="DefaultTimeout"/> when omitted.</param>
    /// <param name="logger">Where the Debug events of each request go (method, endpoint without query, status); none when omitted.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxResponseBytes"/> is not positive, or <paramref name="timeout"/> is not in (0, <see cref="MaxTimeout"/>].</exception>
    internal BackChannel(HttpClient httpClient, TimeProvider timeProvider, int maxResponseBytes = OAuthHttp.DefaultMaxResponseBytes, TimeSpan? timeout = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxResponseBytes);
        var deadline = timeout ?? DefaultTimeout;
        if (!IsValidTimeout(deadline))
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), deadline, $"The back-channel timeout must be greater than zero and at most {MaxTimeout.TotalMinutes:0} minutes.");
        }

        _http = httpClient;
        _logger = logger ?? NullLogger.Instance;
        TimeProvider = timeProvider;
        MaxResponseBytes = maxResponseBytes;
        Timeout = deadline;
    }

    /// <summary>The clock of the deadline (and of the components that use this back channel).</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>The largest response body accepted, in bytes.</summary>
    internal int MaxResponseBytes { get; }

    /// <summary>The deadline of one operation.</summary>
    internal TimeSpan Timeout { get; }

    /// <summary>Whether <paramref name="timeout"/> is a usable deadline: greater than zero and at most <see cref="MaxTimeout"/>.</summary>
    internal static bool IsValidTimeout(TimeSpan timeout) => timeout > TimeSpan.Zero && timeout <= MaxTimeout;

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="optionName"/> unless <paramref name="timeout"/> is a usable deadline (for options validation).</summary>
    internal static void ValidateTimeout(TimeSpan timeout, string optionName)
    {
        if (!IsValidTimeout(timeout))
        {
            throw new ArgumentException($"{optionName} must be greater than zero and at most {MaxTimeout.TotalMinutes:0} minutes.", optionName);
        }
    }

    /// <summary>
    /// GETs <paramref name="endpoint"/> accepting JSON. The body is read only for <c>200 OK</c> (a metadata document);
    /// any other status comes back with an empty body.
    /// </summary>
    /// <param name="endpoint">The document's location.</param>
    /// <param name="purpose">What the endpoint is, for messages (for example "metadata endpoint").</param>
    /// <param name="cancellationToken">The caller's cancellation.</param>
    /// <exception cref="OAuthException">
    /// <see cref="OAuthFailureReason.InsecureEndpoint"/>, <see cref="OAuthFailureReason.RedirectRefused"/>,
    /// <see cref="OAuthFailureReason.Unreachable"/> (network failure or deadline) or <see cref="OAuthFailureReason.ResponseTooLarge"/>.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<BackChannelResponse> GetAsync(Uri endpoint, string purpose, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        OAuthEndpoint.Validate(endpoint, purpose);
        using var request = OAuthHttp.CreateRequest(HttpMethod.Get, endpoint);
        return await SendCoreAsync(request, purpose, readBodyOnlyWhenOk: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends <paramref name="request"/> (created by the caller, for example with <see cref="OAuthHttp.CreateRequest"/>,
    /// which stays its owner) and reads the whole body whatever the status. Its content is replaced by a copy that is
    /// never re-sent to another URI.
    /// </summary>
    /// <param name="request">The request; its URI must be absolute.</param>
    /// <param name="purpose">What the endpoint is, for messages (for example "token endpoint").</param>
    /// <param name="cancellationToken">The caller's cancellation.</param>
    /// <exception cref="OAuthException">As <see cref="GetAsync"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task<BackChannelResponse> SendAsync(HttpRequestMessage request, string purpose, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        OAuthEndpoint.Validate(request.RequestUri ?? throw new ArgumentException("The request has no URI.", nameof(request)), purpose);
        return SendCoreAsync(request, purpose, readBodyOnlyWhenOk: false, cancellationToken);
    }

    private async Task<BackChannelResponse> SendCoreAsync(HttpRequestMessage request, string purpose, bool readBodyOnlyWhenOk, CancellationToken cancellationToken)
    {
        // The URI as sent: a redirecting handler replaces request.RequestUri, never this reference.
        var endpoint = request.RequestUri!;
        using var deadline = new CancellationTokenSource(Timeout, TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked.Token;
        SingleTargetContent? content = null;
        HttpStatusCode? status = null;
        using var span = AuthTelemetry.StartBackChannel(request.Method, endpoint, purpose);
        try
        {
            if (request.Content is { } original)
            {
                content = await SingleTargetContent.CreateAsync(request, endpoint, original, token).ConfigureAwait(false);
                request.Content = content;
                original.Dispose();
            }

            Log.Protocol.Sending(_logger, request.Method, endpoint, purpose);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
            status = response.StatusCode;
            span.Activity?.SetTag("http.response.status_code", (int)response.StatusCode);
            EnsureNotRedirected(request, response, endpoint, purpose);
            if (readBodyOnlyWhenOk && response.StatusCode != HttpStatusCode.OK)
            {
                Log.Protocol.Answered(_logger, endpoint, (int)response.StatusCode, 0);
                return new BackChannelResponse(response.StatusCode, []);
            }

            var body = await ReadBodyAsync(response, endpoint, purpose, token).ConfigureAwait(false);
            Log.Protocol.Answered(_logger, endpoint, (int)response.StatusCode, body.Length);
            return new BackChannelResponse(response.StatusCode, body)
            {
                DPoPNonce = response.Headers.NonValidated.TryGetValues(DPoPProofs.NonceHeaderName, out var nonces) ? nonces.FirstOrDefault() : null,
            };
        }
        catch (Exception ex) when (ex is not OAuthException
            && (ex is OperationCanceledException or IOException or HttpRequestException || content?.Refused == true || cancellationToken.IsCancellationRequested))
        {
            var translated = Translate(ex, endpoint, purpose, status, content, deadline, cancellationToken);
            var reason = translated is OAuthException oauth ? oauth.Reason.ToString() : translated.GetType().Name;
            Log.Protocol.Failed(_logger, endpoint, reason);
            AuthTelemetry.BackChannelFailed(span.Activity, reason);
            throw translated;
        }
        catch (OAuthException ex)
        {
            Log.Protocol.Failed(_logger, endpoint, ex.Reason.ToString());
            AuthTelemetry.BackChannelFailed(span.Activity, ex.Reason.ToString());
            throw;
        }
    }

    /// <summary>The exception an operation that failed with <paramref name="ex"/> surfaces as.</summary>
    private Exception Translate(Exception ex, Uri endpoint, string purpose, HttpStatusCode? status, SingleTargetContent? content, CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        var described = OAuthEndpoint.Describe(endpoint);
        if (cancellationToken.IsCancellationRequested)
        {
            // The caller's cancellation wins over every other cause, and carries the caller's token.
            return ex is OperationCanceledException oce && oce.CancellationToken == cancellationToken
                ? ex
                : new OperationCanceledException($"The request to the {purpose} '{described}' was cancelled.", ex, cancellationToken);
        }

        if (content?.Refused == true)
        {
            return new OAuthException(
                $"The {purpose} '{described}' was redirected and the HTTP client tried to re-send the request body to another URI; it was stopped before sending it. Redirects are not followed on the back channel.",
                OAuthFailureReason.RedirectRefused,
                endpoint,
                innerException: ex);
        }

        if (deadline.IsCancellationRequested)
        {
            return new OAuthException(
                $"The {purpose} '{described}' did not answer completely within the back-channel deadline of {Timeout.TotalSeconds:0.###} s (BackChannelTimeout).",
                OAuthFailureReason.Unreachable,
                endpoint,
                status,
                innerException: ex);
        }

        return ex switch
        {
            // HttpClient.Timeout: not the caller's cancellation, so it is a failure of the exchange.
            OperationCanceledException => new OAuthException($"The request to the {purpose} '{described}' timed out (HttpClient.Timeout).", OAuthFailureReason.Unreachable, endpoint, status, innerException: ex),
            HttpRequestException hre when status is null => new OAuthException($"The {purpose} '{described}' could not be reached ({hre.HttpRequestError}).", OAuthFailureReason.Unreachable, endpoint, innerException: ex),
            _ when status is not null => new OAuthException($"Reading the response of the {purpose} '{described}' failed.", OAuthFailureReason.Unreachable, endpoint, status, innerException: ex),
            _ => new OAuthException($"The request to the {purpose} '{described}' failed.", OAuthFailureReason.Unreachable, endpoint, innerException: ex),
        };
    }

    /// <summary>Fails unless the response is the sent URI's own, non-redirect answer.</summary>
    private static void EnsureNotRedirected(HttpRequestMessage request, HttpResponseMessage response, Uri endpoint, string purpose)
    {
        var status = (int)response.StatusCode;
        if (status is >= 300 and <= 399)
        {
            // The Location is neither followed nor shown: the server chose it, and it may echo what was sent.
            throw new OAuthException(
                $"The {purpose} '{OAuthEndpoint.Describe(endpoint)}' answered with a redirect (HTTP {status}); redirects are not followed on the back channel.",
                OAuthFailureReason.RedirectRefused,
                endpoint,
                response.StatusCode);
        }

        if (!SameUri(request.RequestUri, endpoint) || (response.RequestMessage is { } answered && !SameUri(answered.RequestUri, endpoint)))
        {
            throw new OAuthException(
                $"The HTTP client followed a redirect of the {purpose} '{OAuthEndpoint.Describe(endpoint)}'; the response was not used. Redirects are not followed on the back channel (set AllowAutoRedirect = false on the handler).",
                OAuthFailureReason.RedirectRefused,
                endpoint);
        }
    }

    private static bool SameUri(Uri? actual, Uri expected) =>
        actual is not null && (ReferenceEquals(actual, expected) || string.Equals(actual.AbsoluteUri, expected.AbsoluteUri, StringComparison.Ordinal));

    /// <summary>Reads the whole body, at most <see cref="MaxResponseBytes"/> (by <c>Content-Length</c> or by what arrives).</summary>
    private async Task<byte[]> ReadBodyAsync(HttpResponseMessage response, Uri endpoint, string purpose, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is long declared && declared > MaxResponseBytes)
        {
            throw TooLarge(endpoint, purpose, response.StatusCode);
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[ChunkBytes];
            while (true)
            {
                var read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return buffer.ToArray();
                }

                if (buffer.Length + read > MaxResponseBytes)
                {
                    throw TooLarge(endpoint, purpose, response.StatusCode);
                }

                buffer.Write(chunk.AsSpan(0, read));
            }
        }
    }

    private OAuthException TooLarge(Uri endpoint, string purpose, HttpStatusCode status) =>
        new($"The response of the {purpose} '{OAuthEndpoint.Describe(endpoint)}' exceeds the maximum of {MaxResponseBytes} bytes.", OAuthFailureReason.ResponseTooLarge, endpoint, status);
}
