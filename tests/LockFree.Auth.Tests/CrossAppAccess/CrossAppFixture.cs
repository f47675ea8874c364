using LockFree.Auth.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.CrossAppAccess;

/// <summary>
/// An in-memory world for the provider: an MCP authorization server and an enterprise IdP on one fake handler, a fake
/// clock, an ID token callback that counts calls and can be held behind a gate, and a capturing logger.
/// </summary>
public sealed class CrossAppFixture
{
    public const string Resource = "https://mcp.example.com/mcp";
    public const string AsIssuer = "https://as.example.com";
    public const string IdpIssuer = "https://idp.example.com";
    public const string IdToken = "user-id-token-SECRET";
    public const string ClientSecret = "as-client-secret-SECRET";
    public const string IdpClientSecret = "idp-client-secret-SECRET";

    private int _callbacks;

    public CrossAppFixture()
    {
        As = new FakeOAuthServer(Handler, AsIssuer, "as");
        Idp = new FakeOAuthServer(Handler, IdpIssuer, "idp");
    }

    public FakeHttpHandler Handler { get; } = new();

    public FakeOAuthServer As { get; }

    public FakeOAuthServer Idp { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public CapturingLoggerFactory Logs { get; } = new();

    public Uri ResourceUri { get; } = new(Resource);

    public Uri AsUri { get; } = new(AsIssuer);

    /// <summary>How many times the ID token callback ran.</summary>
    public int Callbacks => Volatile.Read(ref _callbacks);

    /// <summary>The contexts the callback received.</summary>
    public List<CrossApplicationAccessContext> Contexts { get; } = [];

    /// <summary>When set, the callback waits for it (honouring its token) before returning.</summary>
    public TaskCompletionSource? CallbackGate { get; set; }

    /// <summary>Completes when the callback is entered the first time after being reset.</summary>
    public TaskCompletionSource CallbackEntered { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The tokens the callback's exchanges ran on.</summary>
    public List<CancellationToken> CallbackTokens { get; } = [];

    /// <summary>Replaces the callback's behaviour (after counting).</summary>
    public Func<CrossApplicationAccessContext, CancellationToken, Task<string>>? CallbackOverride { get; set; }

    public CrossApplicationAccessProviderOptions Options(Action<CrossApplicationAccessProviderOptions>? configure = null)
    {
        var options = new CrossApplicationAccessProviderOptions
        {
            ClientId = "mcp-client",
            ClientSecret = ClientSecret,
            IdpTokenEndpoint = IdpIssuer + "/token",
            IdpClientId = "idp-client",
            IdpClientSecret = IdpClientSecret,
            IdTokenCallback = CallbackAsync,
        };
        configure?.Invoke(options);
        return options;
    }

    public CrossApplicationAccessProvider CreateProvider(Action<CrossApplicationAccessProviderOptions>? configure = null) =>
        new(Options(configure), Handler.CreateClient(), Logs, Time);

    private async Task<string> CallbackAsync(CrossApplicationAccessContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _callbacks);
        lock (Contexts)
        {
            Contexts.Add(context);
            CallbackTokens.Add(cancellationToken);
        }

        CallbackEntered.TrySetResult();
        if (CallbackGate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        return CallbackOverride is { } custom ? await custom(context, cancellationToken).Within() : IdToken;
    }
}

/// <summary>Captures every formatted log message (thread-safe).</summary>
public sealed class CapturingLoggerFactory : ILoggerFactory
{
    private readonly List<string> _messages = [];

    public IReadOnlyList<string> Messages { get { lock (_messages) { return [.. _messages]; } } }

    public void AddProvider(ILoggerProvider provider) { }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose() { }

    private sealed class Logger(CapturingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = $"{logLevel}: {formatter(state, exception)} {exception?.Message}";
            lock (owner._messages) { owner._messages.Add(text); }
        }
    }
}
