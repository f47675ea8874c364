using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace LockFree.Auth.Benchmarks;

/// <summary>Collects the results of a run and writes the side-by-side markdown report.</summary>
internal sealed class Report(RunOptions options, string commandLine)
{
    private readonly Dictionary<(string Scenario, int Hop, int N, Side Side), List<StormResult>> _cells = [];
    private readonly string _loadAtStart = LoadAverage();
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;

    public List<FastPathRow>? FastPath { get; set; }

    public TimeSpan Elapsed { get; set; }

    public void Add(string scenario, int hop, int n, Side side, StormResult result)
    {
        if (!_cells.TryGetValue((scenario, hop, n, side), out var list))
        {
            _cells[(scenario, hop, n, side)] = list = [];
        }

        list.Add(result);
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        var ic = CultureInfo.InvariantCulture;
        sb.AppendLine("# LockFree.Auth vs ModelContextProtocol.Core 2.4.0, side by side").AppendLine();
        sb.AppendLine(ic, $"- Date: {_startedAt:yyyy-MM-dd HH:mm} UTC; whole run {Elapsed.TotalMinutes:F1} min");
        sb.AppendLine(ic, $"- Machine: {CpuModel()}, {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}");
        sb.AppendLine(ic, $"- Load average (1/5/15 min) at start: {_loadAtStart}; at end: {LoadAverage()} (shared, noisy machine)");
        sb.AppendLine(ic, $"- Command: `dotnet run -c Release --project tests/LockFree.Auth.Benchmarks -- {commandLine}`");
        sb.AppendLine(ic, $"- Repetitions: {options.Reps} per cell ({options.Reps * 2} for the expiry storms, {options.Reps * 3} for the InvalidateCache timing, {options.HeavyReps} for the 401 storm and starvation cells), each side in child processes of its own, the sides alternating process by process; a repetition unfinished after {Storms.Cap.TotalSeconds:F0} s is recorded as capped; medians shown; exchanges as median (min–max)");
        sb.AppendLine(ic, $"- 2.4.0 = `IdentityAssertionGrantProvider` (NuGet ModelContextProtocol.Core 2.4.0); ours = {CrossAppSubject.OursDescription}");
        if (ClientOAuthStorm.IsAvailable)
        {
            sb.AppendLine("- ClientOAuth rows: the SDK's `McpClient` over `HttpClientTransport` on both sides; 2.4.0 authorizes with the transport's built-in OAuth (`HttpClientTransportOptions.OAuth`), ours with an `HttpClient` built on `ClientOAuthHandler`; an exchange there = one token grant");
        }

        sb.AppendLine("- Both run in the same process build against the same in-memory endpoints (AS metadata, IdP token endpoint, AS token endpoint) with the stated latency per hop; an exchange = one RFC 8693 request received by the IdP");
        sb.AppendLine("- Ratios: \"×own\" = time divided by the same side's single-caller time for the same situation; \"ours/2.4.0\" = our time divided by 2.4.0's time");
        if (options.Quick)
        {
            sb.AppendLine("- **Quick smoke run: too few repetitions to publish.**");
        }

        sb.AppendLine();
        sb.AppendLine("## Summary against the targets").AppendLine();
        sb.AppendLine("| Measure | Hop | 2.4.0 | Ours | Ours/2.4.0 | Target | Met |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        SummaryFastPath(sb);
        foreach (var hop in options.Hops)
        {
            SummaryStorms(sb, hop);
        }

        sb.AppendLine();
        DetailFastPath(sb);
        DetailStorms(sb);
        return sb.ToString();
    }

    private void SummaryFastPath(StringBuilder sb)
    {
        if (FastPath is null)
        {
            return;
        }

        var sdk = FastPath.FirstOrDefault(r => r.Method.StartsWith("Sdk_", StringComparison.Ordinal));
        foreach (var ours in FastPath.Where(r => r.Method.StartsWith("Ours_", StringComparison.Ordinal)))
        {
            if (sdk is null)
            {
                continue;
            }

            var ratio = ours.MedianNs / sdk.MedianNs;
            var met = ratio <= 1.0 / 3 && ours.AllocatedBytes == 0;
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| Fast path, valid cached token ({ours.Method["Ours_".Length..]}) | – | {sdk.MedianNs:F1} ns, {sdk.AllocatedBytes} B | {ours.MedianNs:F2} ns, {ours.AllocatedBytes} B | {ratio:F3}× | ≤ 0.333×, 0 B | {Met(met)} |");
        }
    }

    private void SummaryStorms(StringBuilder sb, int hop)
    {
        var ic = CultureInfo.InvariantCulture;
        foreach (var n in new[] { 1, 8, 64, 1024 })
        {
            if (Cell("expiry", hop, n, Side.Sdk) is { } s && Cell("expiry", hop, n, Side.Ours) is { } o)
            {
                var sBase = Cell("expiry", hop, 1, Side.Sdk);
                var oBase = Cell("expiry", hop, 1, Side.Ours);
                var oRatio = Ratio(o, oBase);
                var met = AllExchanges(o, 1) && oRatio <= 1.05;
                sb.AppendLine(ic, $"| Expiry storm, N = {n} | {hop} ms | {Exch(s)}, {Ms(s)} ({Ratio(s, sBase):F2}× own) | {Exch(o)}, {Ms(o)} ({oRatio:F2}× own) | {Vs(o, s)} | 1 exchange, ≤ 1.05× own single caller | {Met(met)} |");
            }
        }

        if (Cell("reject401", hop, 64, Side.Sdk) is { } rs && Cell("reject401", hop, 64, Side.Ours) is { } ro)
        {
            var oRatio = Ratio(ro, Cell("reject401", hop, 1, Side.Ours));
            var met = AllExchanges(ro, 1) && oRatio <= 1.2;
            sb.AppendLine(ic, $"| 401 storm, 64 handlers invalidate + get | {hop} ms | {Exch(rs)}, {Ms(rs)} ({Ratio(rs, Cell("reject401", hop, 1, Side.Sdk)):F1}× own) | {Exch(ro)}, {Ms(ro)} ({oRatio:F2}× own) | {Vs(ro, rs)} | 1 exchange, ≤ 1.2× own one exchange | {Met(met)} |");
        }

        if (Cell("invalidate-inflight", hop, 1, Side.Sdk) is { } iS && Cell("invalidate-inflight", hop, 1, Side.Ours) is { } iO)
        {
            var median = Stats.Median(iO.Select(r => r.Ms));
            var steady = Stats.Median(iO.Where(r => r.AuxMs is not null).Select(r => r.AuxMs!.Value));
            var met = median <= 0.001;
            var steadyText = double.IsNaN(steady) ? string.Empty : $"; further calls {FormatMs(steady)} each";
            sb.AppendLine(ic, $"| `InvalidateCache()` while an exchange is in flight: time in the call | {hop} ms | {Ms(iS)} (max {MaxMs(iS)}) | {Ms(iO)} (max {MaxMs(iO)}){steadyText} | {Vs(iO, iS)} | ≤ 1 µs, never blocks | {Met(met)} |");
        }

        if (Cell("cancel-first", hop, 64, Side.Sdk) is { } cs && Cell("cancel-first", hop, 64, Side.Ours) is { } co)
        {
            var oRatio = Ratio(co, Cell("cancel-first", hop, 0, Side.Ours));
            var met = AllExchanges(co, 1) && oRatio <= 1.2;
            sb.AppendLine(ic, $"| First caller cancelled mid-exchange, 64 waiters | {hop} ms | {Exch(cs)}, {Ms(cs)} ({Ratio(cs, Cell("cancel-first", hop, 0, Side.Sdk)):F2}× own) | {Exch(co)}, {Ms(co)} ({oRatio:F2}× own) | {Vs(co, cs)} | 1 exchange, ≈ one exchange (≤ 1.2× own) | {Met(met)} |");
        }

        foreach (var k in new[] { 2, 8 })
        {
            if (Cell("starvation", hop, k, Side.Sdk) is { } ss && Cell("starvation", hop, k, Side.Ours) is { } so)
            {
                var oRatio = Ratio(so, Cell("starvation", hop, 0, Side.Ours));
                var met = oRatio <= 1.2;
                sb.AppendLine(ic, $"| Starvation: exchange time with K = {k} pool threads invalidating | {hop} ms | {Ms(ss)} ({Ratio(ss, Cell("starvation", hop, 0, Side.Sdk)):F1}× own K = 0) | {Ms(so)} ({oRatio:F2}× own K = 0) | {Vs(so, ss)} | unchanged (≤ 1.2× own K = 0) | {Met(met)} |");
            }
        }

        if (Cell("clientoauth-refresh", hop, 64, Side.Sdk) is { } cs2 && Cell("clientoauth-refresh", hop, 64, Side.Ours) is { } co2)
        {
            var oRatio = Ratio(co2, Cell("clientoauth-refresh", hop, 1, Side.Ours));
            var met = AllExchanges(co2, 1) && oRatio <= 1.2;
            sb.AppendLine(ic, $"| ClientOAuth refresh storm: 64 MCP requests on an expired token (token grants) | {hop} ms | {Exch(cs2)}, {Ms(cs2)} ({Ratio(cs2, Cell("clientoauth-refresh", hop, 1, Side.Sdk)):F2}× own) | {Exch(co2)}, {Ms(co2)} ({oRatio:F2}× own) | {Vs(co2, cs2)} | 1 refresh, ≤ 1.2× own single request | {Met(met)} |");
        }
    }

    private void DetailFastPath(StringBuilder sb)
    {
        if (FastPath is null)
        {
            return;
        }

        sb.AppendLine("## Fast path (BenchmarkDotNet 0.15.8, in-process, MemoryDiagnoser)").AppendLine();
        sb.AppendLine("| Method | Median | Mean | StdDev | Allocated | Median / 2.4.0 |");
        sb.AppendLine("|---|---|---|---|---|---|");
        var sdk = FastPath.FirstOrDefault(r => r.Method.StartsWith("Sdk_", StringComparison.Ordinal));
        foreach (var r in FastPath)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Method} | {r.MedianNs:F2} ns | {r.MeanNs:F2} ns | {r.StdDevNs:F2} ns | {r.AllocatedBytes} B | {(sdk is null ? "–" : (r.MedianNs / sdk.MedianNs).ToString("F3", CultureInfo.InvariantCulture))}× |");
        }

        sb.AppendLine();
    }

    private void DetailStorms(StringBuilder sb)
    {
        var scenarios = _cells.Keys.Select(k => k.Scenario).Distinct().ToList();
        if (scenarios.Count == 0)
        {
            return;
        }

        sb.AppendLine("## Every storm cell").AppendLine();
        sb.AppendLine("| Scenario | Hop | N / K | Side | Median time | Min–max time | Exchanges per rep | Distinct tokens per rep | Errors | Unfinished at cap |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var ((scenario, hop, n, side), results) in _cells.OrderBy(c => c.Key.Hop).ThenBy(c => Array.IndexOf(Storms.Scenarios, c.Key.Scenario)).ThenBy(c => c.Key.N).ThenBy(c => c.Key.Side))
        {
            var times = results.Select(r => r.Ms).ToList();
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {scenario} | {hop} ms | {n} | {(side == Side.Sdk ? "2.4.0" : "ours")} | {Ms(results)} | {FormatMs(times.DefaultIfEmpty(double.NaN).Min())}–{FormatMs(times.DefaultIfEmpty(double.NaN).Max())} | {string.Join(", ", results.Select(r => r.Exchanges))} | {string.Join(", ", results.Select(r => r.Distinct))} | {results.Sum(r => r.Errors)} | {string.Join(", ", results.Select(r => r.Unfinished))} |");
        }

        sb.AppendLine();
        sb.AppendLine("Scenario definitions: `spec/benchmarks.md`.");
    }

    private List<StormResult>? Cell(string scenario, int hop, int n, Side side) =>
        _cells.TryGetValue((scenario, hop, n, side), out var r) && r.Count > 0 ? r : null;

    private static bool AllExchanges(List<StormResult> results, int expected) => results.All(r => r.Exchanges == expected && r.Errors == 0);

    private static double Ratio(List<StormResult> results, List<StormResult>? baseline) =>
        baseline is null ? double.NaN : Stats.Median(results.Select(r => r.Ms)) / Stats.Median(baseline.Select(r => r.Ms));

    private static string Vs(List<StormResult> ours, List<StormResult> sdk)
    {
        var ratio = Stats.Median(ours.Select(r => r.Ms)) / Stats.Median(sdk.Select(r => r.Ms));
        return ratio < 0.01 ? ratio.ToString("0.#####", CultureInfo.InvariantCulture) + "×" : ratio.ToString("F2", CultureInfo.InvariantCulture) + "×";
    }

    private static string Exch(List<StormResult> results)
    {
        var values = results.Select(r => (double)r.Exchanges).ToList();
        var median = Stats.Median(values);
        var (min, max) = (values.Min(), values.Max());
        var text = min == max ? $"{median:0}" : $"{median:0.#} ({min:0}–{max:0})";
        if (results.Any(r => r.Unfinished > 0))
        {
            text = "≥ " + text;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{text} exch.");
    }

    private static string Ms(List<StormResult> results)
    {
        var median = Stats.Median(results.Select(r => r.Ms));
        var capped = results.Any(r => r.Unfinished > 0) && median >= Storms.Cap.TotalMilliseconds;
        return capped ? $"≥ {FormatMs(median)} (capped)" : FormatMs(median);
    }

    private static string MaxMs(List<StormResult> results) => FormatMs(results.Max(r => r.Ms));

    private static string FormatMs(double ms) => ms switch
    {
        double.NaN => "–",
        < 0.001 => string.Create(CultureInfo.InvariantCulture, $"{ms * 1_000_000:F0} ns"),
        < 1 => string.Create(CultureInfo.InvariantCulture, $"{ms * 1000:F2} µs"),
        < 1000 => string.Create(CultureInfo.InvariantCulture, $"{ms:F1} ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{ms / 1000:F2} s"),
    };

    private static string Met(bool met) => met ? "yes" : "**no**";

    private static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]} / {parts[1]} / {parts[2]}";
        }
        catch (IOException)
        {
            return "n/a";
        }
        catch (UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}
