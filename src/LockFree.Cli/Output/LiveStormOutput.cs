using System.Globalization;
using LockFree.Cli.Storm;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace LockFree.Cli.Output;

/// <summary>A terminal: a live table refreshed every 200 ms, then the summary as a table with a colored verdict.</summary>
internal sealed class LiveStormOutput(CliEnvironment env, TimeProvider time) : StormOutput
{
    public override async Task MonitorAsync(StormLive live, Task storm)
    {
        var console = CreateConsole();
        console.WriteLine(SummaryText.Header(live.Settings, live.ProviderDescription, live.Resource));
        await console.Live(LiveTable(live)).AutoClear(false).StartAsync(async ctx =>
        {
            while (!storm.IsCompleted)
            {
                await Task.WhenAny(storm, Task.Delay(TimeSpan.FromMilliseconds(200), time));
                ctx.UpdateTarget(LiveTable(live));
                ctx.Refresh();
            }
        });
    }

    public override Task WriteResultAsync(StormResult result)
    {
        var console = CreateConsole();
        var table = new Table().Border(TableBorder.Rounded).Title("summary").HideHeaders().AddColumn("k").AddColumn("v");
        foreach (var (label, value) in SummaryText.Lines(result))
        {
            table.AddRow(Markup.Escape(label), Markup.Escape(value));
        }

        console.Write(table);
        console.MarkupLine("[grey]" + Markup.Escape(SummaryText.IdealExplanation(result)) + "[/]");
        console.MarkupLine((result.Passed ? "[green]" : "[red]") + Markup.Escape(SummaryText.Verdict(result)) + "[/]");
        return Task.CompletedTask;
    }

    private IAnsiConsole CreateConsole() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(env.Out),
        Ansi = AnsiSupport.Detect,
        ColorSystem = ColorSystemSupport.Detect,
        Interactive = InteractionSupport.Yes,
    });

    private static IRenderable LiveTable(StormLive live)
    {
        var elapsed = live.Elapsed;
        var fraction = Math.Clamp(elapsed / live.Settings.Duration, 0, 1);
        const int width = 30;
        var filled = (int)Math.Round(fraction * width);
        var bar = new string('#', filled) + new string('.', width - filled);
        var rps = live.Requests / Math.Max(elapsed.TotalSeconds, 1e-3);
        var table = new Table().Border(TableBorder.Rounded).HideHeaders().AddColumn("k").AddColumn("v");
        table.AddRow("progress", string.Create(CultureInfo.InvariantCulture, $"[green]{bar}[/] {Math.Min(elapsed.TotalSeconds, live.Settings.Duration.TotalSeconds):0.0} / {live.Settings.Duration.TotalSeconds:0} s"));
        table.AddRow("requests", string.Create(CultureInfo.InvariantCulture, $"{live.Requests:N0} ({rps:N0}/s)"));
        table.AddRow("401 responses", live.Unauthorized.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("token exchanges", string.Create(CultureInfo.InvariantCulture, $"{live.Exchanges:N0} (ideal so far {(live.IdealSoFar is { } i ? i.ToString("N0", CultureInfo.InvariantCulture) : "-")})"));
        table.AddRow("coalesced waiters", live.Coalesced.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("failed", live.Failed == 0 ? "0" : $"[red]{live.Failed:N0}[/]");
        return table;
    }
}
