namespace LockFree.Cli;

/// <summary>Where the CLI writes and what it reads from the environment (the process's own, or a test's).</summary>
internal sealed record CliEnvironment(TextWriter Out, TextWriter Error, Func<string, string?> GetVariable, bool OutputIsTerminal)
{
    public static CliEnvironment FromProcess() => new(
        Console.Out,
        Console.Error,
        Environment.GetEnvironmentVariable,
        !Console.IsOutputRedirected);
}
