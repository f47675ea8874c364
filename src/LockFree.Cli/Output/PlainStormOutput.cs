using LockFree.Cli.Storm;

namespace LockFree.Cli.Output;

/// <summary>Plain text: the header, a progress line every few seconds, then the <see cref="SummaryText"/> summary.</summary>
internal sealed class PlainStormOutput(CliEnvironment env, TimeProvider time) : StormOutput
{
    public override async Task MonitorAsync(StormLive live, Task storm)
    {
        await env.Out.WriteLineAsync(SummaryText.Header(live.Settings, live.ProviderDescription, live.Resource));
        var every = live.Settings.Duration >= TimeSpan.FromSeconds(20) ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(Math.Max(1, live.Settings.Duration.TotalSeconds / 4));
        while (!storm.IsCompleted)
        {
            await Task.WhenAny(storm, Task.Delay(every, time));
            if (!storm.IsCompleted)
            {
                await env.Out.WriteLineAsync(SummaryText.Progress(live));
            }
        }

        await env.Out.WriteLineAsync(SummaryText.Progress(live));
    }

    public override Task WriteResultAsync(StormResult result) => env.Out.WriteAsync(SummaryText.Render(result));
}
