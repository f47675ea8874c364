using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace LockFree.Auth.BrowserTests.Infrastructure;

/// <summary>
/// One headless Chromium for the whole collection (Debian's <c>chromium</c> and <c>chromium-driver</c>; override the
/// paths with <c>CHROMIUM_PATH</c> and <c>CHROMEDRIVER_PATH</c>). Every driver command is bounded (30 s), page loads
/// too (20 s); a missing browser fails at once with the command that installs it.
/// </summary>
public sealed class ChromiumFixture : IDisposable
{
    private readonly DirectoryInfo _profile;

    public ChromiumFixture()
    {
        var browser = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } b ? b : "/usr/bin/chromium";
        var driver = Environment.GetEnvironmentVariable("CHROMEDRIVER_PATH") is { Length: > 0 } d ? d : "/usr/bin/chromedriver";
        if (!File.Exists(browser) || !File.Exists(driver))
        {
            throw new InvalidOperationException(
                $"Chromium or its driver is missing ({browser}, {driver}): run `apt-get update && apt-get install -y chromium chromium-driver` (.ci/run does this when they are missing).");
        }

        Environment.SetEnvironmentVariable("SE_OFFLINE", "true"); // Selenium Manager must not try to download anything
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        _profile = Directory.CreateTempSubdirectory("lockfree-chromium-");
        var options = new ChromeOptions { BinaryLocation = browser };
        options.AddArguments(
            "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,760",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-proxy-server", "--password-store=basic",
            "--user-data-dir=" + _profile.FullName);
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(30));
        Driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(20);
        MainWindow = Driver.CurrentWindowHandle;
    }

    public IWebDriver Driver { get; }

    /// <summary>The first tab; tests that open others come back to it.</summary>
    public string MainWindow { get; }

    /// <summary>Waits (at most <paramref name="seconds"/>) until the page has a <c>main[data-outcome]</c>, and returns the outcome.</summary>
    public string WaitForOutcome(int seconds = 15)
    {
        var wait = new WebDriverWait(Driver, TimeSpan.FromSeconds(seconds));
        return wait.Until(d => d.FindElements(By.CssSelector("main[data-outcome]")).FirstOrDefault()?.GetAttribute("data-outcome"))!;
    }

    /// <summary>Waits (bounded) until an element with <paramref name="id"/> is on the page.</summary>
    public IWebElement WaitForId(string id, int seconds = 15) =>
        new WebDriverWait(Driver, TimeSpan.FromSeconds(seconds)).Until(d => d.FindElements(By.Id(id)).FirstOrDefault())!;

    public void Dispose()
    {
        try
        {
            Driver.Quit();
        }
        finally
        {
            Driver.Dispose();
            try
            {
                _profile.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Chromium may still hold a file for a moment; the temp folder is cleaned by the system.
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ChromiumGroup : ICollectionFixture<ChromiumFixture>
{
    public const string Name = "chromium";
}
