using System.Text.Json;
using System.Text.Json.Serialization;
using LockFree.Cli.Storm;

namespace LockFree.Cli.Output;

/// <summary><c>--json</c>: no progress, then the result as one indented camelCase JSON document.</summary>
internal sealed class JsonStormOutput(CliEnvironment env) : StormOutput
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public override Task MonitorAsync(StormLive live, Task storm) => storm;

    public override Task WriteResultAsync(StormResult result) =>
        env.Out.WriteLineAsync(JsonSerializer.Serialize(result, JsonOptions));
}
