using System.Net;
using Microsoft.Extensions.Logging;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// A <see cref="DelegatingHandler"/> that authorizes requests with a <see cref="ClientOAuthProvider"/>: it attaches
/// the bearer token, and on a <c>401</c> challenge (or a <c>403</c> with <c>insufficient_scope</c>) obtains a token
/// through the provider and replays the request. Build the MCP transport's <see cref="HttpClient"/> on it.
/// </summary>
/// <remarks>
/// <para>
/// Origin binding (see <c>spec/security.md</c>): only requests whose origin (scheme, host, port) is the provider's
/// <see cref="ClientOAuthProvider.ServerUrl"/> get a token; any other request passes through untouched (no header, no
/// challenge handling, no discovery), and a response that the inner handler obtained from another origin by following a
/// redirect is returned as is. To call several MCP servers, use one provider and one handler per server.
/// </para>
/// <para>
/// Request content is buffered before the first send so the request can be replayed. A request is replayed at most
/// once after a <c>401</c> and at most <see cref="ClientOAuthOptions.MaxStepUpAttempts"/> times after a
/// <c>403 insufficient_scope</c>; then the response is returned as is. Other failures pass through untouched. When the
/// provider cannot authorize (for example the user declined, or the resource metadata names another resource), the
/// <see cref="OAuthException"/> propagates to the caller.
/// </para>
/// <para>
/// DPoP (<see cref="ClientOAuthOptions.DPoPKeyStore"/>): a DPoP-bound token is sent as <c>Authorization: DPoP</c>
/// with a new proof per request (<c>ath</c> bound to the token). A <c>DPoP-Nonce</c> on any answer updates the
/// resource's nonce; a <c>401</c> with <c>WWW-Authenticate: DPoP error="use_dpop_nonce"</c> is not a token
/// rejection: the request is sent once more with a proof carrying the new nonce, and a second such answer is returned
/// as is.
/// </para>
/// <para>
/// Concurrency: safe for concurrent requests. With a valid cached token the handler reads it with volatile reads
/// and attaches a ready-made header; it never locks or blocks. Concurrent challenges with the same token share one
/// exchange; a challenge to a token that was already replaced retries with the new token without any exchange.
/// </para>
/// </remarks>
public sealed class ClientOAuthHandler : DelegatingHandler
{
    private readonly ClientOAuthProvider _provider;

    /// <summary>Creates a handler whose <see cref="DelegatingHandler.InnerHandler"/> is set by the caller (or an <c>IHttpClientFactory</c>).</summary>
    /// <param name="provider">The provider that obtains tokens; it may be shared by several handlers.</param>
    public ClientOAuthHandler(ClientOAuthProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        _provider = provider;
    }

    /// <summary>Creates a handler that sends through <paramref name="innerHandler"/>.</summary>
    /// <param name="provider">The provider that obtains tokens; it may be shared by several handlers.</param>
    /// <param name="innerHandler">The handler that sends the requests.</param>
    public ClientOAuthHandler(ClientOAuthProvider provider, HttpMessageHandler innerHandler)
        : base(innerHandler)
    {
        ArgumentNullException.ThrowIfNull(provider);
        _provider = provider;
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var resource = _provider.ServerUrl;
        if (!UriOrigin.IsSame(request.RequestUri, resource))
        {
            // T1 (spec/security.md): a request to another origin is passed through untouched: no token, no challenge
            // handling, no discovery.
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        if (request.Content is { } content)
        {
            await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        }

        var entry = _provider.TryGetCachedEntry() ?? await _provider.GetEntryForRequestAsync(cancellationToken).ConfigureAwait(false);
        if (entry is not null)
        {
            request.Headers.Authorization = entry.Header;
            await ApplyProofAsync(request, entry, cancellationToken).ConfigureAwait(false);
        }

        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);

        var nonceRetried = false;
        ChallengeAttempts? attempts = null;
        while (true)
        {
            if (!UriOrigin.AnsweredBy(resource, request, response))
            {
                // T2: the inner handler followed a redirect to another origin. That origin's answer is never met with a
                // token, and its WWW-Authenticate is not read.
                return response;
            }

            if (entry is { IsDPoPBound: true } && _provider.DPoP is { } dpop)
            {
                // RFC 9449 §9: a new DPoP-Nonce is shared state (one update for N concurrent answers); a use_dpop_nonce
                // challenge is not a token rejection: the request goes once more with a proof carrying the nonce.
                dpop.Observe(resource, response);
                if (DPoPProofs.IsNonceChallenge(response, ReadChallenges(response)))
                {
                    if (nonceRetried)
                    {
                        // Asked again right after a retry with its nonce: returned as is, neither retried nor taken
                        // for a rejection of the token (no retry storm, no refresh).
                        return response;
                    }

                    nonceRetried = true;
                    response.Dispose();
                    await ApplyProofAsync(request, entry, cancellationToken).ConfigureAwait(false);
                    response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }

            var status = response.StatusCode;
            if (entry is not null && status != HttpStatusCode.Unauthorized && !entry.WasAccepted)
            {
                // R1: the resource took this token; a later rejection of it is no longer "fresh token rejected".
                entry.MarkAccepted();
                _provider.OnTokenAccepted();
            }

            if (status is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden))
            {
                return response;
            }

            // The provider decides (and counts, in this request's attempts) whether and with which token to retry.
            attempts ??= new ChallengeAttempts();
            TokenEntry? next;
            try
            {
                next = await _provider.HandleChallengeAsync(entry, status, ReadChallenges(response), attempts, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                response.Dispose();
                throw;
            }

            if (next is null)
            {
                return response;
            }

            response.Dispose();
            entry = next;
            request.Headers.Authorization = entry.Header;
            await ApplyProofAsync(request, entry, cancellationToken).ConfigureAwait(false);
            response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A DPoP-bound token gets a new proof for this request (RFC 9449 §7); any other token none.</summary>
    private ValueTask ApplyProofAsync(HttpRequestMessage request, TokenEntry entry, CancellationToken cancellationToken)
    {
        if (entry.IsDPoPBound && _provider.DPoP is { } dpop)
        {
            return dpop.ApplyAsync(request, entry.Tokens.AccessToken, cancellationToken);
        }

        if (_provider.DPoP is not null)
        {
            request.Headers.Remove(DPoPProofs.HeaderName); // a proof made for an earlier token of this request
        }

        return ValueTask.CompletedTask;
    }


    private static IReadOnlyList<WwwAuthenticateChallenge> ReadChallenges(HttpResponseMessage response)
    {
        if (!response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values))
        {
            return [];
        }

        try
        {
            return WwwAuthenticate.Parse(values);
        }
        catch (FormatException)
        {
            // A malformed challenge still means "authorize": discovery falls back to the well-known locations.
            return [];
        }
    }
}
