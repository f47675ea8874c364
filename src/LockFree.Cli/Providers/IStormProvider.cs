namespace LockFree.Cli.Providers;

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
