// The MCP conformance suite's client for LockFree.Auth: MCP over the official C# SDK (HttpClientTransport, the
// SDK's own OAuth options unused), every authorization step through LockFree.Auth. The runner starts it once per
// scenario (see ../run.sh and spec/conformance.md); it exits by itself, 0 on success, 1 on failure.
//
// The only scenario knowledge here is configuration: which grant, which pre-registered credentials. Discovery,
// registration, scopes, PKCE, state/iss checks, token requests and retries are the library's.
using LockFree.Conformance.Client;
using Microsoft.Extensions.Logging;

using var loggerFactory = LoggerFactory.Create(builder => builder
    .SetMinimumLevel(LogLevel.Debug)
    .AddSimpleConsole(options => { options.SingleLine = true; options.TimestampFormat = "HH:mm:ss.fff "; })
    .AddFilter("System.Net.Http", LogLevel.Warning)
    .AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace));

// Well inside the runner's 30 s: a hung step fails this process instead of the run.
using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
try
{
    var context = ConformanceContext.FromEnvironment(args);
    Console.Error.WriteLine($"conformance: scenario {context.Scenario} against {context.ServerUrl} (protocol {context.ProtocolVersion ?? "default"})");
    await using var session = ClientSetup.Create(context, loggerFactory);
    await session.RunAsync(deadline.Token);
    Console.Error.WriteLine($"conformance: scenario {context.Scenario} completed");
    return 0;
}
catch (Exception ex)
{
    // Exception messages of the library never contain tokens or secrets; print the chain for the results folder.
    Console.Error.WriteLine($"conformance: failed: {Describe(ex)}");
    return 1;
}

static string Describe(Exception ex)
{
    var parts = new List<string>();
    for (var e = ex; e is not null; e = e.InnerException)
    {
        parts.Add($"{e.GetType().Name}: {e.Message}");
    }

    return string.Join(" <- ", parts);
}
