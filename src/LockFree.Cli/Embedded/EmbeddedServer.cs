using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The host of the embedded servers, all in one Kestrel app on 127.0.0.1 with an ephemeral port: the
/// <see cref="EmbeddedAuthorizationServer"/> (with its <see cref="EmbeddedLogin"/> and <see cref="EmbeddedClientRegistry"/>),
/// the <see cref="EmbeddedIdentityProvider"/> and the <see cref="EmbeddedProtectedResource"/>, sharing one
/// <see cref="AccessTokenLedger"/>. Starts them, revokes tokens on a timer, and adds up what they counted.
/// </summary>
internal sealed class EmbeddedServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TimeProvider _time;
    private readonly EmbeddedEndpoints _endpoints = new();
    private readonly AccessTokenLedger _tokens;
    private readonly TokenEndpointResponses _responses;
    private readonly EmbeddedClientRegistry _clients;
    private readonly EmbeddedLogin _login;
    private readonly EmbeddedAuthorizationServer _authorizationServer;
    private readonly EmbeddedIdentityProvider _identityProvider;
    private readonly EmbeddedProtectedResource _resource;
    private ITimer? _revocationTimer;
    private long _revocationStart;
    private TimeSpan _revocationUntil = TimeSpan.MaxValue;

    private EmbeddedServer(WebApplication app, EmbeddedServerSettings settings, TimeProvider time)
    {
        _app = app;
        Settings = settings;
        _time = time;
        var idJags = new IdJagSigner(time);
        _tokens = new AccessTokenLedger(settings.TokenLifetime, time);
        _responses = new TokenEndpointResponses(_tokens);
        _clients = new EmbeddedClientRegistry(settings, time);
        _login = new EmbeddedLogin(_endpoints, _clients, _responses, time);
        _authorizationServer = new EmbeddedAuthorizationServer(settings, _endpoints, _clients, _login, idJags, _responses);
        _identityProvider = new EmbeddedIdentityProvider(settings, _endpoints, idJags, _responses);
        _resource = new EmbeddedProtectedResource(_endpoints, _tokens);
    }

    public EmbeddedServerSettings Settings { get; }

    /// <summary>The base address, for example <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUri => _endpoints.BaseUri;

    /// <summary>The issuer of the authorization server (the base address).</summary>
    public string Issuer => _endpoints.Issuer;

    /// <summary>The protected resource.</summary>
    public Uri ResourceUri => _endpoints.Resource;

    /// <summary>The identity provider's token endpoint.</summary>
    public Uri IdpTokenEndpoint => _endpoints.IdpToken;

    /// <summary>The authorization endpoint (the login page).</summary>
    public Uri AuthorizationEndpoint => _endpoints.Authorization;

    /// <summary>The user's ID token at the identity provider (the "signed-in user" of the cross-app flow).</summary>
    public string IdToken => _identityProvider.IdToken;

    /// <summary>Counters since start.</summary>
    public EmbeddedServerCounters Counters => new(
        _authorizationServer.ClientCredentialsGrants,
        _authorizationServer.JwtBearerGrants,
        _login.AuthorizationCodeGrants,
        _login.RefreshGrants,
        _identityProvider.TokenExchanges,
        _responses.RejectedGrants,
        _resource.Ok,
        _resource.Challenges,
        _resource.RevokedRejections,
        _resource.ExpiredRejections,
        _resource.UnknownRejections,
        _tokens.Revocations,
        new LoginCounters(_login.LoginPages, _login.Consents, _login.Denials, _clients.Registrations),
        _tokens.IssueReasons);

    /// <summary>Spent refresh tokens presented again (reuse detection: each revoked its family).</summary>
    public long RefreshReuses => _login.RefreshReuses;

    /// <summary>When tokens were revoked (<see cref="TimeProvider.GetTimestamp"/> values).</summary>
    public IReadOnlyList<long> RevocationTimestamps => _tokens.RevocationTimestamps;

    /// <summary>When access tokens were issued (<see cref="TimeProvider.GetTimestamp"/> values).</summary>
    public IReadOnlyList<long> IssueTimestamps => _tokens.IssueTimestamps;

    /// <summary>Starts the servers on 127.0.0.1 with an ephemeral port.</summary>
    public static async Task<EmbeddedServer> StartAsync(EmbeddedServerSettings settings, TimeProvider time, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "lockfree" });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        var server = new EmbeddedServer(app, settings, time);
        server._resource.Map(app);
        server._authorizationServer.Map(app);
        server._identityProvider.Map(app);
        server._login.Map(app);
        server._clients.Map(app);
        await app.StartAsync(cancellationToken);
        var address = app.Urls.First();
        server._endpoints.BaseUri = new Uri(address.Replace("localhost", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        return server;
    }

    /// <summary>Starts revoking the most recently issued access token every <see cref="EmbeddedServerSettings.RevokeEvery"/>.</summary>
    /// <param name="start">The start of the run (<see cref="TimeProvider.GetTimestamp"/>).</param>
    /// <param name="until">No revocation later than this offset from <paramref name="start"/>.</param>
    public void StartRevocations(long start, TimeSpan until)
    {
        if (Settings.RevokeEvery <= TimeSpan.Zero)
        {
            return;
        }

        _revocationStart = start;
        _revocationUntil = until;

        _revocationTimer = _time.CreateTimer(static s => ((EmbeddedServer)s!).OnRevocationTimer(), this, Settings.RevokeEvery, Settings.RevokeEvery);
    }

    private void OnRevocationTimer()
    {
        if (_time.GetElapsedTime(_revocationStart) <= _revocationUntil)
        {
            RevokeCurrent();
        }
    }

    /// <summary>Stops revoking tokens.</summary>
    public void StopRevocations() => _revocationTimer?.Dispose();

    /// <summary>Revokes the most recently issued access token; returns whether there was one to revoke.</summary>
    public bool RevokeCurrent() => _tokens.RevokeCurrent();

    /// <summary>Whether <paramref name="accessToken"/> is one this server issued and is neither revoked nor expired.</summary>
    public bool IsActive(string accessToken) => _tokens.IsActive(accessToken);

    public async ValueTask DisposeAsync()
    {
        StopRevocations();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
