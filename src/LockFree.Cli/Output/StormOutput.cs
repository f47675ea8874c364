using LockFree.Cli.Storm;

namespace LockFree.Cli.Output;

/// <summary>
/// How a storm is shown: progress while it runs (<see cref="MonitorAsync"/>) and the result after it
/// (<see cref="WriteResultAsync"/>). One of <see cref="JsonStormOutput"/>, <see cref="PlainStormOutput"/> and
/// <see cref="LiveStormOutput"/>, chosen by <see cref="Choose"/>.
/// </summary>
internal abstract class StormOutput
{
    /// <summary>
    /// <c>--json</c>: the JSON document only; <c>--plain</c>, CI (<c>CI=true</c> or <c>1</c>) or redirected output:
    /// plain progress lines; otherwise the live view.
    /// </summary>
    public static StormOutput Choose(CliEnvironment env, TimeProvider time, bool json, bool plain)
    {
        if (json)
        {
            return new JsonStormOutput(env);
        }

        var ci = string.Equals(env.GetVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) || env.GetVariable("CI") == "1";
        return !plain && !ci && env.OutputIsTerminal ? new LiveStormOutput(env, time) : new PlainStormOutput(env, time);
    }

    /// <summary>Shows the progress of <paramref name="storm"/> until it completes.</summary>
    public abstract Task MonitorAsync(StormLive live, Task storm);

    /// <summary>Writes the result of the storm.</summary>
    public abstract Task WriteResultAsync(StormResult result);
}
