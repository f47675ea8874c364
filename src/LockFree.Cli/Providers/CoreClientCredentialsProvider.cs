using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LockFree.Auth;

namespace LockFree.Cli.Providers;

/// <summary>
/// The state core alone, without a provider: a client-credentials grant behind one
/// <see cref="AuthCoordinator{T}"/> (token endpoint from RFC 8414 discovery, client_secret_basic), and a handler
/// that attaches the token and, on 401, retires exactly the rejected token and retries once. Used by
/// <c>--provider core</c> and as the fallback when no provider is built in.
/// </summary>
/// <remarks>Concurrency: everything shared lives in the coordinators; the handler keeps no state.</remarks>
internal sealed class CoreClientCredentialsProvider : IStormProvider
{
    private readonly StormTarget _target;
    private readonly HttpClient _backChannel;
    private readonly TimeProvider _time;
    private readonly AuthCoordinator<TokenEndpoint> _metadata;
    private readonly AuthCoordinator<TokenContainer> _tokens;

    public CoreClientCredentialsProvider(StormTarget target, HttpMessageHandler backChannel, TimeProvider time)
    {
        _target = target;
        _time = time;
        _backChannel = new HttpClient(backChannel, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
        _metadata = new AuthCoordinator<TokenEndpoint>((_, ct) => DiscoverAsync(ct), timeProvider: time,
            options: new AuthCoordinatorOptions { Name = "core.metadata" });
        _tokens = new AuthCoordinator<TokenContainer>(AcquireAsync, static t => t.ExpiresAt, time,
            new AuthCoordinatorOptions { Name = "core.token" });
    }

    public string DisplayName => "AuthCoordinator<TokenContainer> (client credentials, no provider)";

    public HttpMessageHandler CreateHandler(HttpMessageHandler wire) => new Handler(_tokens, wire);

    public void Dispose()
    {
        _tokens.Dispose();
        _metadata.Dispose();
        _backChannel.Dispose();
    }

    private async Task<TokenEndpoint> DiscoverAsync(CancellationToken cancellationToken)
    {
        var authority = _target.Authority.ToString().TrimEnd('/');
        foreach (var path in new[] { "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration" })
        {
            using var response = await _backChannel.GetAsync(new Uri(authority + path), cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                continue;
            }

            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            if (doc.RootElement.TryGetProperty("token_endpoint", out var te) && Uri.TryCreate(te.GetString(), UriKind.Absolute, out var uri))
            {
                return new TokenEndpoint(uri);
            }
        }

        throw new HttpRequestException($"No token_endpoint in the metadata of {authority}.");
    }

    private async Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        var endpoint = await _metadata.GetAsync(cancellationToken).ConfigureAwait(false);
        var obtainedAt = _time.GetUtcNow();
        var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials") };
        if (_target.Scope is { Length: > 0 } scope)
        {
            form.Add(new("scope", scope));
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Uri) { Content = new FormUrlEncodedContent(form) };
        var credentials = Uri.EscapeDataString(_target.ClientId) + ":" + Uri.EscapeDataString(_target.ClientSecret ?? string.Empty);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(credentials)));
        using var response = await _backChannel.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"The token endpoint answered {(int)response.StatusCode}.", null, response.StatusCode);
        }

        using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        var root = doc.RootElement;
        var accessToken = root.TryGetProperty("access_token", out var at) ? at.GetString() : null;
        if (string.IsNullOrEmpty(accessToken))
        {
            throw new HttpRequestException("The token response has no access_token.");
        }

        return new TokenContainer
        {
            AccessToken = accessToken,
            TokenType = root.TryGetProperty("token_type", out var tt) ? tt.GetString() ?? "Bearer" : "Bearer",
            ObtainedAt = obtainedAt,
            ExpiresIn = root.TryGetProperty("expires_in", out var e) && e.TryGetDouble(out var s) ? TimeSpan.FromSeconds(s) : null,
            Scope = root.TryGetProperty("scope", out var sc) ? sc.GetString() : null,
        };
    }

    private sealed record TokenEndpoint(Uri Uri);

    private sealed class Handler(AuthCoordinator<TokenContainer> tokens, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var token = await tokens.GetAsync(cancellationToken).ConfigureAwait(false);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.AccessToken);
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                return response;
            }

            // Retire only the token that was rejected; a stale 401 (already replaced) costs no exchange.
            response.Dispose();
            tokens.Invalidate(static (cached, rejected) => ReferenceEquals(cached, rejected), token);
            var next = await tokens.GetAsync(cancellationToken).ConfigureAwait(false);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", next.AccessToken);
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }
}
