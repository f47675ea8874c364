using System.Net;
using System.Net.Http.Headers;
using LockFree.Auth;

namespace LockFree.Cli.Providers;

/// <summary>
/// <see cref="CrossApplicationAccessProvider"/> (enterprise-managed authorization: ID token → RFC 8693 token
/// exchange at the IdP → ID-JAG → RFC 7523 JWT-bearer grant at the authorization server) behind a small handler
/// that attaches the token and, on 401, invalidates exactly the rejected token and retries once.
/// </summary>
/// <remarks>Concurrency: the handler keeps no state; the callback counter is Interlocked.</remarks>
internal sealed class CrossAppStormProvider : IStormProvider
{
    private readonly HttpClient _backChannel;
    private readonly CrossApplicationAccessProvider _provider;
    private readonly Uri _resource;
    private readonly Uri _authority;
    private long _idTokenCallbacks;

    public CrossAppStormProvider(StormTarget target, HttpMessageHandler backChannel, TimeProvider time)
    {
        _resource = target.Resource;
        _authority = target.Authority;
        _backChannel = new HttpClient(backChannel, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
        var idToken = target.IdToken ?? string.Empty;
        var options = new CrossApplicationAccessProviderOptions
        {
            ClientId = target.ClientId,
            ClientSecret = target.ClientSecret,
            Scope = target.Scope,
            IdpTokenEndpoint = target.IdpTokenEndpoint?.ToString(),
            IdpClientId = target.IdpClientId ?? string.Empty,
            IdpClientSecret = target.IdpClientSecret,
            IdTokenCallback = (_, _) =>
            {
                Interlocked.Increment(ref _idTokenCallbacks);
                return Task.FromResult(idToken);
            },
        };
        _provider = new CrossApplicationAccessProvider(options, _backChannel, loggerFactory: null, timeProvider: time);
    }

    public string DisplayName => "CrossApplicationAccessProvider (ID token -> ID-JAG -> JWT-bearer)";

    public long? IdTokenCallbacks => Interlocked.Read(ref _idTokenCallbacks);

    public HttpMessageHandler CreateHandler(HttpMessageHandler wire) => new Handler(this, wire);

    public void Dispose()
    {
        _provider.Dispose();
        _backChannel.Dispose();
    }

    private sealed class Handler(CrossAppStormProvider owner, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var token = await owner._provider.GetAccessTokenAsync(owner._resource, owner._authority, cancellationToken).ConfigureAwait(false);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.AccessToken);
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                return response;
            }

            // Only the rejected token is dropped; if it was already replaced this costs no exchange.
            response.Dispose();
            owner._provider.InvalidateCache(token.AccessToken);
            var next = await owner._provider.GetAccessTokenAsync(owner._resource, owner._authority, cancellationToken).ConfigureAwait(false);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", next.AccessToken);
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }
}
