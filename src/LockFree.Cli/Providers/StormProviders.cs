namespace LockFree.Cli.Providers;

/// <summary>The providers the storm can use.</summary>
internal static class StormProviders
{
    public const string ClientOAuth = "client-oauth";
    public const string CrossApp = "cross-app";
    public const string Core = "core";
    public const string ClientCredentials = "client-credentials";
    public const string Naive = "naive";

    /// <summary>The default provider.</summary>
    public const string Default = ClientOAuth;

    /// <summary>Provider names accepted by <c>--provider</c>, the default first.</summary>
    public static string[] Names => [ClientOAuth, CrossApp, ClientCredentials, Core, Naive];

    /// <summary>Creates the provider named <paramref name="name"/> (one of <see cref="Names"/>).</summary>
    public static IStormProvider Create(string name, StormTarget target, HttpMessageHandler backChannel, TimeProvider time) => name switch
    {
        ClientOAuth => new ClientOAuthStormProvider(target, backChannel, time),
        CrossApp => new CrossAppStormProvider(target, backChannel, time),
        ClientCredentials => new ClientCredentialsStormProvider(target, backChannel, time),
        Core => new CoreClientCredentialsProvider(target, backChannel, time),
        Naive => new NaiveStormProvider(target, backChannel, time),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown provider."),
    };
}
