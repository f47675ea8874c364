namespace LockFree.Auth.BrowserTests.Infrastructure;

/// <summary>
/// The browser launcher of the tests: records each authorization URL and hands it to the test, which then drives the
/// shared Chromium (WebDriver is used from the test's flow only, never from the launcher's thread).
/// </summary>
internal sealed class TestLauncher
{
    private readonly TaskCompletionSource<Uri> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _launches;

    public int Launches => Volatile.Read(ref _launches);

    public Task<Uri> FirstLaunch => _first.Task.WaitAsync(TimeSpan.FromSeconds(30));

    public Task LaunchAsync(Uri uri, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _launches);
        _first.TrySetResult(uri);
        return Task.CompletedTask;
    }

    /// <summary>The loopback redirect URI (with the listener's port) the authorization request names.</summary>
    public static Uri RedirectOf(Uri authorizationUri)
    {
        foreach (var pair in authorizationUri.Query.TrimStart('?').Split('&'))
        {
            var parts = pair.Split('=', 2);
            if (parts[0] == "redirect_uri")
            {
                return new Uri(Uri.UnescapeDataString(parts[1]));
            }
        }

        throw new InvalidOperationException("The authorization URL names no redirect_uri.");
    }
}
