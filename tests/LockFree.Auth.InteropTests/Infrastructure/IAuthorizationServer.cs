namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>A real authorization server started by the tests on loopback, with the clients every scenario uses.</summary>
/// <remarks>
/// Clients (the same on both servers): <c>cc-basic</c> / <c>secret-basic</c> (client_secret_basic), <c>cc-post</c> /
/// <c>secret-post</c> (client_secret_post), <c>cc-jwt</c> (private_key_jwt with <see cref="ClientKeys"/>), and the
/// public authorization-code clients <c>code-client</c> (1 h access tokens) and <c>code-short</c> (5 s access tokens),
/// redirect URI <c>http://127.0.0.1/callback</c>. Resource scopes <c>mcp:read</c> and <c>mcp:admin</c>; the only
/// registered RFC 8707 resource is the <see cref="ProtectedResource"/>'s URL.
/// </remarks>
public interface IAuthorizationServer : IAsyncDisposable
{
    /// <summary>"OpenIddict" or "oidc-provider".</summary>
    string Name { get; }

    /// <summary>The issuer exactly as its metadata spells it.</summary>
    string Issuer { get; }

    /// <summary>The RFC 7009 revocation endpoint.</summary>
    Uri RevocationEndpoint { get; }

    /// <summary>The protected resource whose tokens this server issues.</summary>
    ProtectedResource Resource { get; }

    /// <summary>Everything recorded since the last <see cref="ResetAsync"/>.</summary>
    Task<IReadOnlyList<ServerEvent>> EventsAsync(CancellationToken cancellationToken);

    /// <summary>Clears the record and serves RFC 8414 metadata again.</summary>
    Task ResetAsync(CancellationToken cancellationToken);

    /// <summary>Whether <c>/.well-known/oauth-authorization-server</c> is served (else 404: the OpenID Connect fallback).</summary>
    Task SetOAuthMetadataAsync(bool enabled, CancellationToken cancellationToken);
}
