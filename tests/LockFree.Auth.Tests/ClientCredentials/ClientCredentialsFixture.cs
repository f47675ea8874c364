using LockFree.Auth.Testing;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.ClientCredentials;

/// <summary>An authorization server on a fake handler, a fake clock, a log recorder, and a manager factory.</summary>
internal sealed class ClientCredentialsFixture
{
    public const string Issuer = "https://as.example.com";
    public const string ClientSecret = "billing-secret-SECRET";
    public const string Api = "https://api.example.com";

    public ClientCredentialsFixture()
    {
        Server = new FakeOAuthServer(Handler, Issuer, "cc");
    }

    public FakeHttpHandler Handler { get; } = new();

    public FakeOAuthServer Server { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public RecordingLoggerFactory Logs { get; } = new();

    public ClientCredentialsClientOptions Options(Action<ClientCredentialsClientOptions>? configure = null)
    {
        var options = new ClientCredentialsClientOptions
        {
            TokenEndpoint = new Uri(Server.TokenEndpoint),
            ClientId = "billing-client",
            ClientSecret = ClientSecret,
            Scope = "billing.read",
        };
        configure?.Invoke(options);
        return options;
    }

    public ClientCredentialsTokenManager Manager(Action<ClientCredentialsClientOptions>? configure = null, int capacity = ClientCredentialsTokenManager.DefaultCapacity, string clientName = "billing")
    {
        var http = Handler.CreateClient();
        return new ClientCredentialsTokenManager(
            new Dictionary<string, ClientCredentialsClientOptions> { [clientName] = Options(configure) },
            () => http,
            Time,
            Logs,
            capacity);
    }
}
