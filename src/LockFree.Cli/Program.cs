using LockFree.Cli;

// Ctrl+C stops the storm early; the summary of what ran is still printed (exit code 130).
using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (!interrupt.IsCancellationRequested)
    {
        e.Cancel = true;
        interrupt.Cancel();
    }
};

return await CliApp.RunAsync(args, CliEnvironment.FromProcess(), interrupt.Token);
