namespace LockFree.Cli;

/// <summary>Where the CLI writes and what it reads from the environment (the process's own, or a test's).</summary>
internal sealed record CliEnvironment(TextWriter Out, TextWriter Error, Func<string, string?> GetVariable, bool OutputIsTerminal)
{
    /// <summary>Standard input (the hidden <c>replica</c> command reads its seed token set from it); empty unless set.</summary>
    public TextReader In { get; init; } = TextReader.Null;

    public static CliEnvironment FromProcess() => new(
        Console.Out,
        Console.Error,
        Environment.GetEnvironmentVariable,
        !Console.IsOutputRedirected)
    {
        In = Console.In,
    };
}
