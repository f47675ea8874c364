namespace LockFree.Auth.BrowserTests.Readme;

/// <summary>The README's first MCP example is exactly the code of <see cref="ReadmeQuickstart"/>, which compiles.</summary>
public sealed class ReadmeQuickstartTests
{
    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LockFree.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("The repository root (LockFree.sln) was not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Readme_FirstMcpExample_IsTheCompiledSnippet()
    {
        var root = Root();
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n");
        var section = readme.IndexOf("### MCP OAuth client", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no '### MCP OAuth client' section");
        var start = readme.IndexOf("```csharp\n", section, StringComparison.Ordinal) + "```csharp\n".Length;
        var end = readme.IndexOf("```", start, StringComparison.Ordinal);
        var readmeCode = readme[start..end].TrimEnd('\n');

        var source = File.ReadAllText(Path.Combine(root, "tests", "LockFree.Auth.BrowserTests", "Readme", "ReadmeQuickstart.cs")).Replace("\r\n", "\n");
        var lines = source.Split('\n');
        var usings = lines.TakeWhile(l => l.StartsWith("using ", StringComparison.Ordinal)).ToList();
        var body = lines.SkipWhile(l => !l.Contains("// README:BEGIN", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => !l.Contains("// README:END", StringComparison.Ordinal))
            .Select(l => l.Length >= 8 && l[..8].Trim().Length == 0 ? l[8..] : l.TrimStart());
        var snippet = string.Join("\n", usings.Append(string.Empty).Concat(body));

        Assert.Equal(snippet, readmeCode);
        Assert.DoesNotContain("MyBrowser", readmeCode);
    }

    [Fact]
    public void Readme_FirstMcpExample_Compiles()
    {
        // Compiling this assembly compiled it; the delegate proves the method is there (it is not run: mcp.example.com).
        Func<Task> run = ReadmeQuickstart.RunAsync;
        Assert.NotNull(run);
    }
}
