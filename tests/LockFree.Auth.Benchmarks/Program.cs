using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace LockFree.Auth.Benchmarks;

/// <summary>
/// Entry point. <c>all</c> (default) runs the fast-path benchmarks and every storm scenario for both sides and
/// writes <c>BenchmarkDotNet.Artifacts/lockfree-vs-mcp-sdk-2.4.0.md</c>. See <c>spec/benchmarks.md</c>.
/// </summary>
public static class Program
{
    internal static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static async Task<int> Main(string[] args)
    {
        var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "all";
        if (command == "child")
        {
            return await ChildAsync(args).ConfigureAwait(false);
        }

        if (command == "shared")
        {
            return await SharedTokenBenchmarks.RunAsync().ConfigureAwait(false);
        }

        if (command == "replicas")
        {
            return await ReplicaBenchmarks.RunAsync(args).ConfigureAwait(false);
        }

        if (command is "-h" or "--help" or "help")
        {
            PrintHelp();
            return 0;
        }

        var options = RunOptions.Parse(args);
        var artifacts = Path.Combine(Environment.CurrentDirectory, "BenchmarkDotNet.Artifacts");
        Directory.CreateDirectory(artifacts);
        var report = new Report(options, string.Join(' ', args.Length == 0 ? ["all"] : args));
        var total = Stopwatch.StartNew();

        switch (command)
        {
            case "all":
                report.FastPath = RunFastPath(options, artifacts);
                await new StormRunner(options, report).RunAsync().ConfigureAwait(false);
                break;
            case "fast":
                report.FastPath = RunFastPath(options, artifacts);
                break;
            case "invalidate":
                RunBenchmarks<InvalidationBenchmarks>(options, artifacts, "Invalidate");
                return 0;
            case "client-credentials":
                return await ClientCredentialsCommand.RunAsync(options, artifacts).ConfigureAwait(false);
            case "storms":
                await new StormRunner(options, report).RunAsync().ConfigureAwait(false);
                break;
            default:
                Console.Error.WriteLine($"Unknown command '{command}'.");
                PrintHelp();
                return 2;
        }

        report.Elapsed = total.Elapsed;
        var path = Path.Combine(artifacts, "lockfree-vs-mcp-sdk-2.4.0.md");
        var markdown = report.ToMarkdown();
        await File.WriteAllTextAsync(path, markdown).ConfigureAwait(false);
        Console.WriteLine();
        Console.WriteLine(markdown);
        Console.WriteLine($"Written to {path} ({total.Elapsed.TotalSeconds:F0} s).");
        return 0;
    }

    private static void PrintHelp() => Console.WriteLine("""
        LockFree.Auth benchmarks, side by side with ModelContextProtocol.Core 2.4.0.

        Usage: dotnet run -c Release --project tests/LockFree.Auth.Benchmarks -- [command] [options]

        Commands:
          all      (default) fast-path benchmarks + every storm scenario; writes the markdown report
          fast     BenchmarkDotNet fast-path benchmarks only
          invalidate  BenchmarkDotNet InvalidateCache() / InvalidateCache(token) benchmarks (1 and 64 keys); BenchmarkDotNet's own report only
          client-credentials  ClientCredentialsTokenManager vs MSAL.NET 4.92 vs Azure.Core 1.65: fast path + expiry/401 storms
                   (--callers N, default 1024; --hop ms, default 50; --reps N); writes client-credentials.md
          storms   storm scenarios only
          shared   SharedTokens on/off: fast path, cold adopt vs exchange (private redis-server; spec/distributed.md "Cost")
          replicas K = 1,2,4 in-process replicas, with and without the Redis store: exchanges, time until every replica
                   holds the new token and Redis commands per expiry (--replicas 1,2,4 --callers 16 --expiries 100 --hop 5)
          child    (internal) one scenario in this process; prints RESULT <json>

        Options:
          --reps N      repetitions (child processes per side) of each cell (default 5)
          --heavy-reps N      repetitions of the cells where 2.4.0 blocks pool threads (401 storm, starvation; default 3)
          --hops 5,50   per-hop latencies in ms (default 5,50)
          --only a,b    storm scenarios to run (expiry, reject401, invalidate-inflight, cancel-first, starvation, clientoauth-refresh)
          --quick       smoke run: 2 reps, short BenchmarkDotNet job (numbers not for publication)
        """);

    private static List<FastPathRow> RunFastPath(RunOptions options, string artifacts)
    {
        var summary = RunBenchmarks<FastPathBenchmarks>(options, artifacts, "FastPath");
        var rows = new List<FastPathRow>();
        foreach (var r in summary.Reports)
        {
            rows.Add(new FastPathRow(
                r.BenchmarkCase.Descriptor.WorkloadMethod.Name,
                r.ResultStatistics?.Median ?? double.NaN,
                r.ResultStatistics?.Mean ?? double.NaN,
                r.ResultStatistics?.StandardDeviation ?? double.NaN,
                r.GcStats.GetBytesAllocatedPerOperation(r.BenchmarkCase)));
        }

        return rows;
    }

    internal static BenchmarkDotNet.Reports.Summary RunBenchmarks<TBenchmarks>(RunOptions options, string artifacts, string id)
    {
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(options.Quick ? 2 : 6)
            .WithIterationCount(options.Quick ? 3 : 15)
            .WithId(id);
        var config = ManualConfig.CreateMinimumViable()
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddExporter(MarkdownExporter.GitHub)
            .WithArtifactsPath(artifacts)
            .WithOptions(ConfigOptions.JoinSummary);
        return BenchmarkRunner.Run<TBenchmarks>(config);
    }

    private static async Task<int> ChildAsync(string[] args)
    {
        // child <scenario> <side> <hopMs> <n1,n2,...> <reps>
        var spec = new StormSpec(
            args[1],
            Enum.Parse<Side>(args[2], ignoreCase: true),
            int.Parse(args[3], CultureInfo.InvariantCulture),
            [.. args[4].Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture))],
            int.Parse(args[5], CultureInfo.InvariantCulture));
        var results = await Storms.RunAsync(spec).ConfigureAwait(false);
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(results, Json));
        Console.Out.Flush();

        // Capped repetitions leave threads blocked inside 2.4.0's InvalidateCache(); do not wait for them.
        Environment.Exit(0);
        return 0;
    }
}

/// <summary>Command-line options of a parent run.</summary>
internal sealed class RunOptions
{
    public int Reps { get; private set; } = 5;

    public int HeavyReps { get; private set; } = 3;

    public int[] Hops { get; private set; } = [5, 50];

    public bool Quick { get; private set; }

    public int Callers { get; private set; } = 1024;

    public int HopMs { get; private set; } = 50;

    public bool StormsOnly { get; private set; }

    public HashSet<string> Only { get; private set; } = new(Storms.Scenarios, StringComparer.Ordinal);

    public static RunOptions Parse(string[] args)
    {
        var o = new RunOptions();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--reps": o.Reps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--heavy-reps": o.HeavyReps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--hops": o.Hops = [.. args[++i].Split(',').Select(h => int.Parse(h, CultureInfo.InvariantCulture))]; break;
                case "--only": o.Only = new(args[++i].Split(','), StringComparer.Ordinal); break;
                case "--callers": o.Callers = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--storms-only": o.StormsOnly = true; break;
                case "--hop": o.HopMs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--quick": o.Quick = true; o.Reps = 2; o.HeavyReps = 1; break;
            }
        }

        return o;
    }
}

/// <summary>One BenchmarkDotNet row.</summary>
internal sealed record FastPathRow(string Method, double MedianNs, double MeanNs, double StdDevNs, long? AllocatedBytes);
