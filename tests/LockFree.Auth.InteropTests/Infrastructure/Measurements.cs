namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>
/// The counts each scenario measured on the wire, appended to <c>TestResults/interop/measurements.txt</c> (cleared
/// when the servers start) — the source of the README's scenario × server table.
/// </summary>
public static class Measurements
{
    private static readonly object s_gate = new();

    public static string FilePath { get; } = Path.Combine(RepositoryPaths.Root, "TestResults", "interop", "measurements.txt");

    public static void Clear()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        File.WriteAllText(FilePath, $"# interop measurements {DateTimeOffset.UtcNow:u}{Environment.NewLine}");
    }

    public static void Record(string server, string scenario, string counts)
    {
        lock (s_gate)
        {
            File.AppendAllText(FilePath, $"{server}\t{scenario}\t{counts}{Environment.NewLine}");
        }
    }
}
