namespace LockFree.Auth.Tests.Security;

/// <summary>
/// Two real origins for the redirect suite: <see cref="A"/> (the endpoint the library was told about) redirects to
/// <see cref="B"/> (another host), and a back-channel <see cref="HttpClient"/> that does or does not follow redirects.
/// </summary>
/// <remarks>Concurrency: used by one test at a time.</remarks>
internal sealed class RedirectScenario : IAsyncDisposable
{
    /// <summary>The secrets used across the suite; each must never reach <see cref="B"/>.</summary>
    public const string ClientSecret = "cs-SECRET-client-secret";
    public const string Code = "code-SECRET-authorization-code";
    public const string Verifier = "verifier-SECRET-pkce-verifier-0123456789abcdef";
    public const string RefreshToken = "rt-SECRET-refresh-token";
    public const string InitialAccessToken = "iat-SECRET-initial-access-token";
    public const string IdToken = "idt-SECRET-id-token";
    public const string IdJag = "jag-SECRET-id-jag";

    private RedirectScenario(LoopbackOrigin a, LoopbackOrigin b, bool autoRedirect)
    {
        A = a;
        B = b;
        AutoRedirect = autoRedirect;
        Http = autoRedirect ? new HttpClient() : new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
    }

    /// <summary>The origin the library sends to.</summary>
    public LoopbackOrigin A { get; }

    /// <summary>The origin A redirects to.</summary>
    public LoopbackOrigin B { get; }

    /// <summary>Whether <see cref="Http"/> follows redirects (a default <c>new HttpClient()</c>) or not.</summary>
    public bool AutoRedirect { get; }

    /// <summary>The back channel's client.</summary>
    public HttpClient Http { get; }

    /// <summary>Every redirect status, each with a client that follows redirects and one that does not.</summary>
    public static TheoryData<int, bool> Matrix()
    {
        var data = new TheoryData<int, bool>();
        foreach (var status in new[] { 301, 302, 303, 307, 308 })
        {
            data.Add(status, true);
            data.Add(status, false);
        }

        return data;
    }

    /// <summary>302 and 307 (the two families: method changed to GET, method and body kept), each with both clients.</summary>
    public static TheoryData<int, bool> Core() => new() { { 302, true }, { 302, false }, { 307, true }, { 307, false } };

    public static async Task<RedirectScenario> StartAsync(bool autoRedirect)
    {
        var a = await LoopbackOrigin.StartAsync("127.0.0.1");
        var b = await LoopbackOrigin.StartAsync("127.0.0.2");
        return new RedirectScenario(a, b, autoRedirect);
    }

    /// <summary>A back channel over <see cref="Http"/> with the system clock.</summary>
    public BackChannel BackChannel(TimeSpan? timeout = null) => new(Http, TimeProvider.System, OAuthHttp.DefaultMaxResponseBytes, timeout);

    /// <summary>
    /// The checks every redirect test ends with: the caller got <see cref="OAuthFailureReason.RedirectRefused"/> with a
    /// message naming <paramref name="endpoint"/> and no secret nor the redirect target; <see cref="B"/> received
    /// none of <paramref name="secrets"/>, no <c>Authorization</c> header and no request body at all.
    /// </summary>
    public void AssertRefused(Exception? thrown, Uri endpoint, params (string Label, string Value)[] secrets)
    {
        var ex = Assert.IsAssignableFrom<OAuthException>(thrown);
        Assert.True(ex.Reason == OAuthFailureReason.RedirectRefused, $"Expected RedirectRefused, got {ex.Reason}: {ex.Message}");
        Assert.Contains(OAuthEndpoint.Describe(endpoint), ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(B.Origin, ex.ToString(), StringComparison.Ordinal);
        foreach (var (label, value) in secrets)
        {
            Assert.False(ex.ToString().Contains(value, StringComparison.Ordinal), $"The exception shows the {label}.");
        }

        B.AssertReceivedNone(secrets);
        B.AssertNoAuthorizationHeader();
        foreach (var request in B.Requests)
        {
            Assert.True(request.Body.Length == 0, $"{B.Origin} received {request.Body.Length} body bytes in {request.Method} {request.Path}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await A.DisposeAsync();
        await B.DisposeAsync();
    }
}
