using System.Text.Json;

namespace LockFree.Conformance.Client;

/// <summary>
/// What the conformance runner hands the client: the scenario name (<c>MCP_CONFORMANCE_SCENARIO</c>), the
/// scenario's credentials (<c>MCP_CONFORMANCE_CONTEXT</c>, JSON), the MCP protocol revision the mock server
/// speaks (<c>MCP_CONFORMANCE_PROTOCOL_VERSION</c>, 0.2.0 runners only) and the MCP server URL (last argument).
/// </summary>
/// <remarks>ToString is not overridden on purpose: the context holds secrets, so nothing prints it.</remarks>
internal sealed class ConformanceContext
{
    private readonly Dictionary<string, string> _values;

    private ConformanceContext(string scenario, Uri serverUrl, string? protocolVersion, Dictionary<string, string> values)
    {
        Scenario = scenario;
        ServerUrl = serverUrl;
        ProtocolVersion = protocolVersion;
        _values = values;
    }

    public string Scenario { get; }

    public Uri ServerUrl { get; }

    public string? ProtocolVersion { get; }

    public static ConformanceContext FromEnvironment(string[] args)
    {
        if (args.Length == 0 || !Uri.TryCreate(args[^1], UriKind.Absolute, out var serverUrl))
        {
            throw new ArgumentException("The last argument must be the MCP server URL.");
        }

        var scenario = Environment.GetEnvironmentVariable("MCP_CONFORMANCE_SCENARIO");
        if (string.IsNullOrEmpty(scenario))
        {
            throw new ArgumentException("MCP_CONFORMANCE_SCENARIO is not set.");
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var json = Environment.GetEnvironmentVariable("MCP_CONFORMANCE_CONTEXT");
        if (!string.IsNullOrEmpty(json))
        {
            using var document = JsonDocument.Parse(json);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind == JsonValueKind.String)
                {
                    values[property.Name] = property.Value.GetString()!;
                }
            }
        }

        var protocolVersion = Environment.GetEnvironmentVariable("MCP_CONFORMANCE_PROTOCOL_VERSION");
        return new ConformanceContext(scenario, serverUrl, string.IsNullOrEmpty(protocolVersion) ? null : protocolVersion, values);
    }

    public string? Get(string name) => _values.TryGetValue(name, out var value) ? value : null;

    public string Require(string name) =>
        Get(name) ?? throw new ArgumentException($"MCP_CONFORMANCE_CONTEXT has no '{name}' for scenario {Scenario}.");
}
