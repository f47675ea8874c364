using LockFree.Auth;
using LockFree.Auth.OAuth;

namespace LockFree.Cli.Providers;

/// <summary>
/// <see cref="ClientOAuthProvider"/> with the client-credentials grant behind <see cref="ClientOAuthHandler"/>: the
/// handler finds the authorization server from the resource's 401 challenge (RFC 9728 metadata, RFC 8414
/// discovery) and shares one provider between all storm clients.
/// </summary>
internal sealed class ClientOAuthStormProvider : IStormProvider
{
    private readonly HttpClient _backChannel;
    private readonly ClientOAuthProvider _provider;

    public ClientOAuthStormProvider(StormTarget target, HttpMessageHandler backChannel, TimeProvider time)
    {
        _backChannel = new HttpClient(backChannel, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
        var options = new ClientOAuthOptions
        {
            GrantType = OAuthGrantType.ClientCredentials,
            ClientId = target.ClientId,
            ClientSecret = target.ClientSecret,
            Scopes = target.Scope is { Length: > 0 } scope ? scope.Split(' ', StringSplitOptions.RemoveEmptyEntries) : null,
            // With several authorization servers in the resource metadata, prefer the one given as --authority.
            AuthServerSelector = servers => servers.FirstOrDefault(s => SameIssuer(s, target.Authority)) ?? (servers.Count > 0 ? servers[0] : null),
        };
        _provider = new ClientOAuthProvider(target.Resource, options, _backChannel, loggerFactory: null, timeProvider: time);
    }

    public string DisplayName => "ClientOAuthHandler (client credentials)";

    public HttpMessageHandler CreateHandler(HttpMessageHandler wire) => new ClientOAuthHandler(_provider, wire);

    public void Dispose()
    {
        _provider.Dispose();
        _backChannel.Dispose();
    }

    private static bool SameIssuer(Uri a, Uri b) =>
        string.Equals(a.ToString().TrimEnd('/'), b.ToString().TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
}
