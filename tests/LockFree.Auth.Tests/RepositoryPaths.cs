namespace LockFree.Auth.Tests;

internal static class RepositoryPaths
{
    /// <summary>The repository root (the folder holding LockFree.sln), found from the test binary's location.</summary>
    public static string Root { get; } = FindRoot();

    public static string Source => Path.Combine(Root, "src", "LockFree.Auth");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LockFree.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("LockFree.sln not found above " + AppContext.BaseDirectory);
    }
}
