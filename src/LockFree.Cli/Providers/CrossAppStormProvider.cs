using LockFree.Auth;
using LockFree.Auth.CrossAppAccess;

namespace LockFree.Cli.Providers;

/// <summary>
/// <see cref="CrossApplicationAccessProvider"/> (enterprise-managed authorization: ID token → RFC 8693 token
/// exchange at the IdP → ID-JAG → RFC 7523 JWT-bearer grant at the authorization server) behind
/// <see cref="CrossApplicationAccessHandler"/>, which finds the authorization server in the resource's RFC 9728
/// metadata, attaches the token and, on 401, retires exactly the rejected token and replays once.
/// </summary>
/// <remarks>Concurrency: the ID-token callback counter is Interlocked; everything else lives in the library.</remarks>
internal sealed class CrossAppStormProvider : IStormProvider
{
    private readonly HttpClient _backChannel;
    private readonly CrossApplicationAccessProvider _provider;
    private readonly Uri _resource;
    private long _idTokenCallbacks;

    public CrossAppStormProvider(StormTarget target, HttpMessageHandler backChannel, TimeProvider time)
    {
        _resource = target.Resource;
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

    public string DisplayName => "CrossApplicationAccessHandler (ID token -> ID-JAG -> JWT-bearer)";

    public long? IdTokenCallbacks => Interlocked.Read(ref _idTokenCallbacks);

    public HttpMessageHandler CreateHandler(HttpMessageHandler wire) => new CrossApplicationAccessHandler(_provider, _resource, _backChannel, wire);

    public void Dispose()
    {
        _provider.Dispose();
        _backChannel.Dispose();
    }
}
