namespace LockFree.Auth.OAuth;

/// <summary>Configures a <see cref="SystemBrowserAuthorization"/>.</summary>
/// <remarks>
/// Where the loopback listener listens is not configured here: it follows <see cref="ClientOAuthOptions.RedirectUri"/>
/// (<c>http://127.0.0.1/callback</c>: an ephemeral port per authorization; <c>http://127.0.0.1:8765/callback</c>:
/// that port).
/// <para>
/// Concurrency: configure before constructing the handler and do not change the instance afterwards; the handler
/// copies the values once and never writes to it.
/// </para>
/// </remarks>
public sealed class SystemBrowserAuthorizationOptions
{
    /// <summary>
    /// Shows the authorization URL to the user. When <see langword="null"/>, the platform's URL opener is used
    /// (<see cref="SystemBrowserAuthorization.OpenSystemBrowserAsync"/>: <c>xdg-open</c>, <c>open</c> or
    /// <c>start</c>). Use <see cref="SystemBrowserAuthorization.PrintUrl"/> for a machine without a browser (the user
    /// opens the URL on the same machine by hand), or a test's own launcher.
    /// </summary>
    /// <remarks>
    /// The task may complete as soon as the browser was asked to open the URL; the redirect is awaited separately.
    /// The token passed is cancelled when the authorization ends (completed, timed out or cancelled).
    /// </remarks>
    public Func<Uri, CancellationToken, Task>? BrowserLauncher { get; set; }

    /// <summary>
    /// How long to wait for the redirect after the listener opened; then the authorization fails with
    /// <see cref="OAuthFailureReason.AuthorizationTimedOut"/> and the listener is closed.
    /// </summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long one connection to the listener may take to send its request line and headers before it is closed
    /// (browsers open speculative connections that never send anything).
    /// </summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
