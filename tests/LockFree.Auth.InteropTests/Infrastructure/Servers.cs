namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>
/// Both real authorization servers (each with its own protected resource), started once for the test collection and
/// stopped after it. Tests in the collection run one at a time and reset the servers' records first.
/// </summary>
public sealed class Servers : IAsyncLifetime
{
    public const string OpenIddict = "OpenIddict";
    public const string OidcProvider = "oidc-provider";

    public IAuthorizationServer OpenIddictServer { get; private set; } = null!;

    public IAuthorizationServer OidcProviderServer { get; private set; } = null!;

    /// <summary>A second oidc-provider that requires DPoP nonces at its token endpoint (<c>use_dpop_nonce</c>).</summary>
    public IAuthorizationServer OidcProviderWithDPoPNonce { get; private set; } = null!;

    public IAuthorizationServer this[string name] => name switch
    {
        OpenIddict => OpenIddictServer,
        OidcProvider => OidcProviderServer,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    public static TheoryData<string> Names => new() { OpenIddict, OidcProvider };

    public async Task InitializeAsync()
    {
        Measurements.Clear();
        var openIddict = Infrastructure.OpenIddictServer.StartAsync();
        var oidcProvider = Infrastructure.OidcProviderServer.StartAsync();
        OpenIddictServer = await openIddict.WaitAsync(TimeSpan.FromSeconds(90));
        OidcProviderServer = await oidcProvider.WaitAsync(TimeSpan.FromMinutes(5));
        OidcProviderWithDPoPNonce = await Infrastructure.OidcProviderServer.StartAsync(requireDpopNonce: true).WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        if (OpenIddictServer is not null) { await OpenIddictServer.DisposeAsync(); }
        if (OidcProviderServer is not null) { await OidcProviderServer.DisposeAsync(); }
        if (OidcProviderWithDPoPNonce is not null) { await OidcProviderWithDPoPNonce.DisposeAsync(); }
    }
}

[CollectionDefinition(Name)]
public sealed class InteropGroup : ICollectionFixture<Servers>
{
    public const string Name = "interop";
}
