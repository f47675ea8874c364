namespace LockFree.Cli.Storm;

/// <summary>Everything one storm run needs, already validated by the command line.</summary>
internal sealed record StormSettings
{
    public int Clients { get; init; } = 256;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Embedded server: lifetime of each access token.</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Embedded server: how often the current token is revoked (zero: never).</summary>
    public TimeSpan RevokeEvery { get; init; } = TimeSpan.FromSeconds(4);

    public string Provider { get; init; } = Providers.StormProviders.Default;

    /// <summary>A real authorization server; <see langword="null"/> runs the embedded one.</summary>
    public Uri? Authority { get; init; }

    /// <summary>The real protected resource (required with <see cref="Authority"/>).</summary>
    public Uri? Resource { get; init; }

    public string? ClientId { get; init; }

    public string? ClientSecret { get; init; }

    public string? Scope { get; init; }

    public Uri? IdpTokenEndpoint { get; init; }

    public string? IdpClientId { get; init; }

    public string? IdpClientSecret { get; init; }

    public string? IdToken { get; init; }

    /// <summary><c>lockfree login</c>: sign in through the browser (authorization code) before the storm; <see langword="null"/> otherwise.</summary>
    public LoginSettings? Login { get; init; }

    /// <summary><c>--replicas N</c>: N replica processes share one token through Redis (0: the one-process storm).</summary>
    public int Replicas { get; init; }

    /// <summary>Whether the replicas share their tokens through Redis (<c>--no-shared-store</c>: the baseline).</summary>
    public bool SharedStore { get; init; } = true;

    /// <summary><c>--redis HOST:PORT</c>: an existing Redis to share through; <see langword="null"/>: a redis-server started by the storm.</summary>
    public string? Redis { get; init; }

    /// <summary>Whether the run uses the embedded servers.</summary>
    public bool Embedded => Authority is null;

    /// <summary>Describes the settings without any secret.</summary>
    public override string ToString() =>
        $"StormSettings {{ Clients = {Clients}, Duration = {Duration}, Provider = {Provider}, Replicas = {Replicas}, SharedStore = {SharedStore}, Authority = {Authority?.ToString() ?? "(embedded)"}, Login = {Login is not null} }}";
}
