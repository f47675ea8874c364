namespace LockFree.Cli.Storm;

/// <summary>How <c>lockfree login</c> shows the authorization URL and how long it waits for the user.</summary>
/// <param name="NoBrowser">Print the URL instead of opening the system browser.</param>
/// <param name="Timeout">How long the loopback listener waits for the redirect.</param>
/// <param name="Launcher">The browser launcher (null: the system browser).</param>
internal sealed record LoginSettings(bool NoBrowser, TimeSpan Timeout, Func<Uri, CancellationToken, Task>? Launcher);
