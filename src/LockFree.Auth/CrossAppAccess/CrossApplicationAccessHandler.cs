using System.Net;
using System.Net.Http.Headers;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.CrossAppAccess;

/// <summary>
/// A <see cref="DelegatingHandler"/> that authorizes the requests to one protected resource (an MCP server) with a
/// <see cref="CrossApplicationAccessProvider"/>: it finds the resource's authorization server in the resource's
/// RFC 9728 protected resource metadata, attaches the bearer token the provider obtains for (resource, authorization
/// server), and on a <c>401</c> retires the rejected token and replays the request once. Build the MCP transport's
/// <see cref="HttpClient"/> on it.
/// </summary>
/// <remarks>
/// <para>
/// Discovery: the metadata is read from the <c>resource_metadata</c> of a <c>401</c> challenge when there is one, else
/// from the well-known locations (path-specific first, then the root). Its <c>resource</c> must identify the server URL
/// (same origin; the same path or a segment-wise prefix of it), otherwise the request fails with an
/// <see cref="OAuthException"/> and no token is requested for it. The token is requested for that <c>resource</c> and
/// the first of its <c>authorization_servers</c>. While no metadata is known, requests go out without a token; the
/// challenge of the resulting <c>401</c> then leads to the metadata.
/// </para>
/// <para>
/// A <c>401</c> to a request that carried a token retires that token (<see cref="CrossApplicationAccessProvider.InvalidateCache(string)"/>,
/// which acts only if it is still cached) and re-reads the metadata (the resource may have moved to another
/// authorization server) before the single replay. A second <c>401</c>, and every other status, is returned as is.
/// Request content is buffered before the first send so the request can be replayed.
/// </para>
/// <para>
/// Concurrency: safe for concurrent requests; no locks, no blocking waits. The provider discovers the metadata (as the
/// OAuth provider does for its handler): each discovery location is fetched once and shared by every request waiting for
/// it, also across handlers of one provider that share a back channel; a stale
/// <c>401</c> does not re-read metadata that a concurrent request already replaced. Concurrent <c>401</c>s to the same
/// token cause one new exchange in the provider. A request's <see cref="CancellationToken"/> ends only its own wait.
/// </para>
/// </remarks>
public sealed class CrossApplicationAccessHandler : DelegatingHandler
{
    private const string WellKnown = "";

    private readonly CrossApplicationAccessProvider _provider;
    private readonly Uri _serverUrl;
    private readonly IBackChannel _backChannel;

    // The discovery location requests use now. Replaced (compare-and-swap) when a challenge names another location;
    // readers take it once per request and work on that value.
    private readonly AuthCell<Location> _location = new(new Location(WellKnown));

    /// <summary>Creates a handler whose <see cref="DelegatingHandler.InnerHandler"/> is set by the caller (or an <c>IHttpClientFactory</c>).</summary>
    /// <param name="provider">The provider that obtains tokens; it may be shared by several handlers.</param>
    /// <param name="serverUrl">The protected resource the requests go to (the MCP server URL).</param>
    /// <param name="httpClient">The back channel for the protected resource metadata (not disposed by the handler).</param>
    public CrossApplicationAccessHandler(CrossApplicationAccessProvider provider, Uri serverUrl, HttpClient httpClient)
        : this(provider, serverUrl, provider is null || httpClient is null ? null! : provider.CreateBackChannel(httpClient))
    {
        ArgumentNullException.ThrowIfNull(httpClient);
    }

    /// <summary>For the Coyote suite: a handler whose resource-metadata discovery goes to <paramref name="backChannel"/> (an in-memory fake).</summary>
    internal static CrossApplicationAccessHandler OverBackChannel(CrossApplicationAccessProvider provider, Uri serverUrl, IBackChannel backChannel, HttpMessageHandler innerHandler) =>
        new(provider, serverUrl, backChannel ?? throw new ArgumentNullException(nameof(backChannel)))
        {
            InnerHandler = innerHandler ?? throw new ArgumentNullException(nameof(innerHandler)),
        };

    private CrossApplicationAccessHandler(CrossApplicationAccessProvider provider, Uri serverUrl, IBackChannel backChannel)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(serverUrl);
        if (!serverUrl.IsAbsoluteUri || (serverUrl.Scheme != Uri.UriSchemeHttps && serverUrl.Scheme != Uri.UriSchemeHttp))
        {
            throw new ArgumentException("The server URL must be an absolute http(s) URI.", nameof(serverUrl));
        }

        _provider = provider;
        _serverUrl = serverUrl;
        _backChannel = backChannel;
    }

    /// <summary>Creates a handler that sends through <paramref name="innerHandler"/>.</summary>
    /// <param name="provider">The provider that obtains tokens; it may be shared by several handlers.</param>
    /// <param name="serverUrl">The protected resource the requests go to (the MCP server URL).</param>
    /// <param name="httpClient">The back channel for the protected resource metadata (not disposed by the handler).</param>
    /// <param name="innerHandler">The handler that sends the requests.</param>
    public CrossApplicationAccessHandler(CrossApplicationAccessProvider provider, Uri serverUrl, HttpClient httpClient, HttpMessageHandler innerHandler)
        : this(provider, serverUrl, httpClient)
    {
        InnerHandler = innerHandler ?? throw new ArgumentNullException(nameof(innerHandler));
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!UriOrigin.IsSame(request.RequestUri, _serverUrl))
        {
            // T1 (spec/security.md): a request to another origin passes through untouched: no token, no 401 handling,
            // no discovery.
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        if (request.Content is { } content)
        {
            await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        }

        var location = _location.Current;
        var (used, sent) = await AuthorizeAsync(request, location.Value, cancellationToken).ConfigureAwait(false);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || !UriOrigin.AnsweredBy(_serverUrl, request, response))
        {
            // T2: an answer from another origin (a redirect the inner handler followed) is never met with a token.
            return response;
        }

        var challenged = ResourceMetadataOf(response, _serverUrl) ?? location.Value;
        if (sent is not null)
        {
            _provider.InvalidateCache(sent);
            _provider.RetireResourceMetadata(_backChannel, _serverUrl, location.Value, used);
        }
        else if (string.Equals(challenged, location.Value, StringComparison.Ordinal))
        {
            return response; // no token was sent and the challenge leads nowhere new
        }

        if (!string.Equals(challenged, location.Value, StringComparison.Ordinal))
        {
            _location.TryReplace(location, new Location(challenged));
        }

        string? replacement;
        try
        {
            (_, replacement) = await AuthorizeAsync(request, challenged, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            response.Dispose();
            throw;
        }

        if (replacement is null || !UriOrigin.IsSame(request.RequestUri, _serverUrl))
        {
            request.Headers.Authorization = null;
            return response;
        }

        response.Dispose();
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Attaches the token for the resource found at <paramref name="location"/>; none when there is no metadata.</summary>
    private async Task<(ResourceMetadataDiscovery Used, string? Token)> AuthorizeAsync(HttpRequestMessage request, string location, CancellationToken cancellationToken)
    {
        var discovery = await _provider.GetResourceMetadataAsync(_backChannel, _serverUrl, location, cancellationToken).ConfigureAwait(false);
        if (discovery.Metadata is not { } metadata)
        {
            request.Headers.Authorization = null;
            return (discovery, null);
        }

        if (metadata.AuthorizationServers.Count == 0)
        {
            throw new OAuthException(
                $"The protected resource metadata at '{OAuthEndpoint.Describe(metadata.Source)}' names no authorization server.",
                OAuthFailureReason.MalformedResponse,
                metadata.Source);
        }

        var tokens = await _provider.GetAccessTokenAsync(metadata.Resource, metadata.AuthorizationServers[0], cancellationToken).ConfigureAwait(false);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.AccessToken);
        return (discovery, tokens.AccessToken);
    }

    /// <summary>
    /// The <c>resource_metadata</c> of the response's Bearer challenge, if it is an absolute http(s) URI on the resource's
    /// own origin (T6); <see langword="null"/> for none, another origin, or a malformed header (then the well-known
    /// locations are used).
    /// </summary>
    private static string? ResourceMetadataOf(HttpResponseMessage response, Uri serverUrl)
    {
        if (!response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values))
        {
            return null;
        }

        IReadOnlyList<WwwAuthenticateChallenge> challenges;
        try
        {
            challenges = WwwAuthenticate.Parse(values);
        }
        catch (FormatException)
        {
            return null; // H1: a malformed challenge is no hint; the 401 is handled like one without resource_metadata
        }

        foreach (var challenge in challenges)
        {
            if (challenge.IsBearer && OAuthEndpoint.TryParseAbsolute(challenge["resource_metadata"]) is { } url && UriOrigin.IsSame(url, serverUrl))
            {
                return url.OriginalString;
            }
        }

        return null;
    }

    /// <summary>The discovery location in use (immutable; a new instance per change so the cell can compare-and-swap).</summary>
    private sealed record Location(string Value);
}
