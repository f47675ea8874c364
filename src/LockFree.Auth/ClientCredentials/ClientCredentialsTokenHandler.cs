using System.Net;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.ClientCredentials;

/// <summary>
/// A <see cref="DelegatingHandler"/> that sends a client-credentials access token from a
/// <see cref="ClientCredentialsTokenManager"/> with every request to one API, and on a <c>401</c> to the token it sent
/// retires that token (only if it is still the cached one) and sends the request once more with a new one.
/// </summary>
/// <remarks>
/// <para>
/// Origin binding (see <c>spec/security.md</c>): only requests whose origin (scheme, host, port) is the API's get a
/// token; any other request passes through untouched, and a response that the inner handler obtained from another
/// origin by following a redirect is returned as is (its <c>401</c> retires nothing).
/// </para>
/// <para>
/// The retry: at most one per request, only when the request's content can be sent again unchanged (no content, or
/// bytes, a string, a form, a memory block or JSON serialized from an object); a streamed body is not buffered for it, so such a request gets the
/// <c>401</c> back while the rejected token is still retired for the next request. A <c>401</c> to the retried request
/// is returned as is.
/// </para>
/// <para>
/// Concurrency: safe for concurrent requests; the handler keeps no state of its own (every shared thing lives in the
/// manager). With a cached token it does a dictionary lookup and a volatile read and attaches a ready-made header; it
/// never locks. Handlers are cheap: an <c>IHttpClientFactory</c> may create and drop them as it rotates handlers; the
/// tokens stay in the manager.
/// </para>
/// </remarks>
public sealed class ClientCredentialsTokenHandler : DelegatingHandler
{
    /// <summary>
    /// The request option that asks for another scope or resource than the client's configured ones for one request:
    /// <c>request.Options.Set(ClientCredentialsTokenHandler.TokenRequestOption, new() { Scope = "reports.read" })</c>.
    /// Each combination is cached under its own key.
    /// </summary>
    public static readonly HttpRequestOptionsKey<ClientCredentialsTokenRequest> TokenRequestOption = new("LockFree.Auth.ClientCredentials.TokenRequest");

    private readonly ClientCredentialsTokenManager _manager;
    private readonly string _clientName;
    private readonly Uri _api;

    /// <summary>Creates a handler whose <see cref="DelegatingHandler.InnerHandler"/> is set by the caller (or an <c>IHttpClientFactory</c>).</summary>
    /// <param name="manager">The manager that obtains the tokens; shared by every handler.</param>
    /// <param name="clientName">The client of <paramref name="manager"/> whose tokens are sent.</param>
    /// <param name="apiBaseAddress">
    /// The API: only requests to its origin get a token. An absolute <c>https</c> URI (plain <c>http</c> only for a
    /// loopback host): a bearer token is never sent in clear text over the network.
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="clientName"/> is not a client of <paramref name="manager"/>, or <paramref name="apiBaseAddress"/> is not a usable API address.</exception>
    public ClientCredentialsTokenHandler(ClientCredentialsTokenManager manager, string clientName, Uri apiBaseAddress)
    {
        (_manager, _clientName, _api) = Check(manager, clientName, apiBaseAddress);
    }

    /// <summary>Creates a handler that sends through <paramref name="innerHandler"/>.</summary>
    /// <param name="manager">The manager that obtains the tokens; shared by every handler.</param>
    /// <param name="clientName">The client of <paramref name="manager"/> whose tokens are sent.</param>
    /// <param name="apiBaseAddress">The API: only requests to its origin get a token (https, or http to a loopback host).</param>
    /// <param name="innerHandler">The handler that sends the requests.</param>
    /// <exception cref="ArgumentException"><paramref name="clientName"/> is not a client of <paramref name="manager"/>, or <paramref name="apiBaseAddress"/> is not a usable API address.</exception>
    public ClientCredentialsTokenHandler(ClientCredentialsTokenManager manager, string clientName, Uri apiBaseAddress, HttpMessageHandler innerHandler)
        : base(innerHandler)
    {
        (_manager, _clientName, _api) = Check(manager, clientName, apiBaseAddress);
    }

    private static (ClientCredentialsTokenManager, string, Uri) Check(ClientCredentialsTokenManager manager, string clientName, Uri apiBaseAddress)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentException.ThrowIfNullOrEmpty(clientName);
        ArgumentNullException.ThrowIfNull(apiBaseAddress);
        if (!manager.ClientNames.Contains(clientName))
        {
            throw new ArgumentException($"The manager has no client named '{clientName}'.", nameof(clientName));
        }

        try
        {
            OAuthEndpoint.Validate(apiBaseAddress, "API");
        }
        catch (OAuthException ex)
        {
            throw new ArgumentException(ex.Message, nameof(apiBaseAddress), ex);
        }

        return (manager, clientName, apiBaseAddress);
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!UriOrigin.IsSame(request.RequestUri, _api))
        {
            // T1 (spec/security.md): a request to another origin is passed through untouched.
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var tokenRequest = request.Options.TryGetValue(TokenRequestOption, out var asked) ? asked : null;
        var token = await _manager.GetAccessTokenAsync(_clientName, tokenRequest, cancellationToken).ConfigureAwait(false);
        request.Headers.Authorization = token.Header;
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || !UriOrigin.AnsweredBy(_api, request, response))
        {
            // T2: an answer the inner handler fetched from another origin (a followed redirect) says nothing about the token.
            return response;
        }

        // Retire exactly the token that was rejected; if another request already replaced it, this costs nothing.
        _manager.InvalidateRejected(_clientName, token, tokenRequest);
        if (!CanSendAgain(request.Content))
        {
            return response;
        }

        var next = await _manager.GetAccessTokenAsync(_clientName, tokenRequest, cancellationToken).ConfigureAwait(false);
        if (ReferenceEquals(next, token))
        {
            return response;
        }

        response.Dispose();
        request.Headers.Authorization = next.Header;
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="content"/> serializes the same bytes again (no stream that the first send consumed).</summary>
    private static bool CanSendAgain(HttpContent? content) => content is null or ByteArrayContent or ReadOnlyMemoryContent or System.Net.Http.Json.JsonContent;
}
