using OpenQA.Selenium;

namespace LockFree.Auth.BrowserTests.Infrastructure;

/// <summary>
/// Where the browser tests write their artifacts: <c>TestResults/browser/</c> at the repository root (screenshots as
/// PNG, and <c>measurements.txt</c>), rewritten on every run (failure screenshots of an earlier run are removed).
/// </summary>
internal static class Artifacts
{
    private static readonly object Gate = new();

    public static string Folder { get; } = Create();

    /// <summary>Saves a PNG screenshot of the current page as <c>{name}.png</c> and returns its path.</summary>
    public static string Screenshot(IWebDriver driver, string name)
    {
        var path = Path.Combine(Folder, name + ".png");
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(path);
        return path;
    }

    /// <summary>Appends a measured line to <c>measurements.txt</c>.</summary>
    public static void Record(string line)
    {
        lock (Gate)
        {
            File.AppendAllText(Path.Combine(Folder, "measurements.txt"), $"{DateTimeOffset.UtcNow:u} {line}{Environment.NewLine}");
        }
    }

    private static string Create()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LockFree.sln")))
        {
            dir = dir.Parent;
        }

        var folder = Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "TestResults", "browser");
        Directory.CreateDirectory(folder);

        // A new run: what an earlier run left (failure screenshots, measurements) would mislead.
        foreach (var stale in Directory.EnumerateFiles(folder, "*-failure.png").Append(Path.Combine(folder, "measurements.txt")))
        {
            File.Delete(stale);
        }

        return folder;
    }
}
