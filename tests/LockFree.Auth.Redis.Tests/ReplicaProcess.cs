using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// One replica process (tests/LockFree.Auth.ReplicaHost, started as <c>dotnet &lt;dll&gt;</c>) of the fault tests: its
/// arguments, its JSON line of counts, and a SIGKILL for the test that kills the lease holder. Disposing kills it if it
/// still runs (only the processes a test started).
/// </summary>
internal sealed class ReplicaProcess : IDisposable
{
    private static readonly string Host =
        typeof(ReplicaProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ReplicaHost").Value!;

    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;

    private ReplicaProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>The test's name for it (for example <c>cut-off</c>, <c>+5 s</c>).</summary>
    public string Name { get; }

    public int Pid => _process.Id;

    public bool Killed { get; private set; }

    /// <summary>Starts a replica of the shared client (until <see cref="Stop"/>, at most <paramref name="duration"/>): <paramref name="extra"/> are further <c>--name value</c> arguments.</summary>
    public static ReplicaProcess Start(
        string name, string serverUrl, string redisEndpoint, string prefix, int callers, TimeSpan duration, params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] arguments =
        [
            Host, "--server", serverUrl, "--callers", callers.ToString(CultureInfo.InvariantCulture),
            "--seconds", duration.TotalSeconds.ToString(CultureInfo.InvariantCulture), "--replica", name,
            "--redis", redisEndpoint, "--prefix", prefix, "--key", Convert.ToHexString(Replica.TestKey), "--stop-on-stdin", "true",
            .. extra,
        ];
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new ReplicaProcess(name, Process.Start(start) ?? throw new InvalidOperationException("The replica did not start."));
    }

    /// <summary>Ends its run now (the line "stop" on its standard input); <c>--seconds</c> is only its upper bound.</summary>
    public void Stop()
    {
        if (!Killed && !_process.HasExited)
        {
            try
            {
                _process.StandardInput.WriteLine("stop");
                _process.StandardInput.Flush();
            }
            catch (IOException)
            {
                // It exited meanwhile; its result says why.
            }
        }
    }

    /// <summary>SIGKILL (on Linux <see cref="Process.Kill()"/> sends SIGKILL): no finally block, no disposal, no release.</summary>
    public void Kill()
    {
        Killed = true;
        _process.Kill();
    }

    /// <summary>Its JSON line, once it exited by itself (bounded); a non-zero exit fails with its standard error.</summary>
    public async Task<JsonElement> ResultAsync(TimeSpan bound)
    {
        await _process.WaitForExitAsync().Within(bound);
        Assert.True(_process.ExitCode == 0, $"replica {Name} exited with {_process.ExitCode}: {await _stderr}");
        var line = (await _stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()
            ?? throw new InvalidOperationException($"replica {Name} printed nothing: {await _stderr}");
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>Waits (bounded) for a killed process to be gone.</summary>
    public Task ExitedAsync(TimeSpan bound) => _process.WaitForExitAsync().Within(bound);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }
}
