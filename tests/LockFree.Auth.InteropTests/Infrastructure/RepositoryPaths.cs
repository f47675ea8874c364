namespace LockFree.Auth.InteropTests.Infrastructure;

internal static class RepositoryPaths
{
    /// <summary>The repository root: the first ancestor of the test binaries that holds LockFree.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The oidc-provider configuration and its pinned npm packages.</summary>
    public static string OidcProviderDirectory => Path.Combine(Root, "tests", "LockFree.Auth.InteropTests", "OidcProvider");

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
