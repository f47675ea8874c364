namespace LockFree.Cli.Providers;

/// <summary>Where the storm runs: the embedded servers or a real authorization server and resource.</summary>
/// <param name="Resource">The protected resource every client calls.</param>
/// <param name="Authority">The authorization server (issuer) URL.</param>
/// <param name="ClientId">The OAuth client.</param>
/// <param name="ClientSecret">Its secret (never printed).</param>
/// <param name="Scope">Requested scope, if any.</param>
/// <param name="IdpTokenEndpoint">Cross-app access: the enterprise IdP's token endpoint.</param>
/// <param name="IdpClientId">Cross-app access: the client at the IdP.</param>
/// <param name="IdpClientSecret">Cross-app access: its secret at the IdP (never printed).</param>
/// <param name="IdToken">Cross-app access: the user's ID token (never printed).</param>
internal sealed record StormTarget(
    Uri Resource,
    Uri Authority,
    string ClientId,
    string? ClientSecret,
    string? Scope,
    Uri? IdpTokenEndpoint,
    string? IdpClientId,
    string? IdpClientSecret,
    string? IdToken)
{
    /// <summary>Describes the target without any secret.</summary>
    public override string ToString() => $"StormTarget {{ Resource = {Resource}, Authority = {Authority}, ClientId = {ClientId} }}";
}

/// <summary>An auth provider wired for the storm: it turns the wire handler into an authenticated handler.</summary>
internal interface IStormProvider : IDisposable
{
    /// <summary>The name shown in the summary, for example <c>ClientOAuthHandler (client credentials)</c>.</summary>
    string DisplayName { get; }

    /// <summary>How often the provider's ID-token callback ran (cross-app access), else <see langword="null"/>.</summary>
    long? IdTokenCallbacks => null;

    /// <summary>The handler every storm client sends through; <paramref name="wire"/> reaches the resource.</summary>
    HttpMessageHandler CreateHandler(HttpMessageHandler wire);

    /// <summary>An interactive sign-in before the storm starts (<c>lockfree login</c>); <see langword="null"/> when the provider needs none.</summary>
    Task<SignIn?> SignInAsync(CancellationToken cancellationToken) => Task.FromResult<SignIn?>(null);
}

/// <summary>What an interactive sign-in obtained (no token values).</summary>
/// <param name="Scope">The granted scope.</param>
/// <param name="RefreshToken">Whether a refresh token came with it.</param>
internal sealed record SignIn(string Scope, bool RefreshToken);

/// <summary>The providers the storm can use.</summary>
internal static class StormProviders
{
    public const string ClientOAuth = "client-oauth";
    public const string CrossApp = "cross-app";
    public const string Core = "core";
    public const string Naive = "naive";

    /// <summary>The default provider.</summary>
    public const string Default = ClientOAuth;

    /// <summary>Provider names accepted by <c>--provider</c>, the default first.</summary>
    public static string[] Names => [ClientOAuth, CrossApp, Core, Naive];

    /// <summary>Creates the provider named <paramref name="name"/> (one of <see cref="Names"/>).</summary>
    public static IStormProvider Create(string name, StormTarget target, HttpMessageHandler backChannel, TimeProvider time) => name switch
    {
        ClientOAuth => new ClientOAuthStormProvider(target, backChannel, time),
        CrossApp => new CrossAppStormProvider(target, backChannel, time),
        Core => new CoreClientCredentialsProvider(target, backChannel, time),
        Naive => new NaiveStormProvider(target, backChannel, time),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown provider."),
    };
}
