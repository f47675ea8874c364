using System.Text.Json;

namespace LockFree.Cli.Tests;

/// <summary>Runs the CLI in-process with captured output and a controlled environment (CI=true, no terminal).</summary>
internal static class CliHarness
{
    public sealed record Run(int ExitCode, string Out, string Error)
    {
        public JsonElement Json()
        {
            using var doc = JsonDocument.Parse(Out);
            return doc.RootElement.Clone();
        }

        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
    }

    public static async Task<Run> RunAsync(string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var env = new Dictionary<string, string>(environment ?? new Dictionary<string, string>()) { ["CI"] = "true" };
        var exit = await CliApp.RunAsync(args, new CliEnvironment(stdout, stderr, name => env.GetValueOrDefault(name), OutputIsTerminal: false));
        return new Run(exit, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>Storms share the process-wide LockFree.Auth meter and the two cores: never run two at once.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StormTestGroup
{
    public const string Name = "storm";
}
