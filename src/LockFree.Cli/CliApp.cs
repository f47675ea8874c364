using System.CommandLine;
using System.CommandLine.Help;
using LockFree.Auth;
using LockFree.Auth.OAuth;
using LockFree.Cli.Commands;
using LockFree.Cli.Output;
using LockFree.Cli.Replicas;
using LockFree.Cli.Storm;

namespace LockFree.Cli;

/// <summary>
/// The <c>lockfree</c> command line, wired: the schema is <see cref="CliOptions"/>, binding is
/// <see cref="StormSettingsBinder"/>, the run is <see cref="StormRunner"/> and the output a <see cref="StormOutput"/>.
/// This type maps each outcome to its message and exit code (<see cref="ExitCodes"/>).
/// </summary>
internal sealed class CliApp
{
    private readonly CliEnvironment _env;
    private readonly TimeProvider _time;
    private readonly CliOptions _options = new();

    public CliApp(CliEnvironment env, TimeProvider? time = null)
    {
        _env = env;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Runs the command line and returns the exit code. Never throws for bad input.</summary>
    public static Task<int> RunAsync(string[] args, CliEnvironment env, CancellationToken cancellationToken = default) =>
        new CliApp(env).InvokeAsync(args, cancellationToken);

    /// <summary>Parses a duration as <c>--duration</c> does (<c>20s</c>, <c>500ms</c>, <c>2m</c>, bare seconds).</summary>
    internal static bool TryParseDuration(string text, out TimeSpan value) => OptionValues.TryParseDuration(text, out value);

    public async Task<int> InvokeAsync(string[] args, CancellationToken cancellationToken)
    {
        var root = _options.BuildRootCommand();
        var parse = root.Parse(args);
        var config = new InvocationConfiguration { Output = _env.Out, Error = _env.Error, EnableDefaultExceptionHandler = false };
        if (parse.Action is HelpAction || (parse.Errors.Count == 0 && parse.GetResult(root.Options.OfType<VersionOption>().First()) is not null))
        {
            return await parse.InvokeAsync(config, cancellationToken);
        }

        if (parse.Errors.Count > 0)
        {
            return await UsageErrorAsync(parse.Errors.Select(e => e.Message));
        }

        if (parse.CommandResult.Command.Name == "replica")
        {
            return await ReplicaAsync(parse, cancellationToken);
        }

        StormSettings settings;
        try
        {
            settings = StormSettingsBinder.Bind(parse, _options, _env);
        }
        catch (UsageException ex)
        {
            return await UsageErrorAsync([ex.Message]);
        }

        if (settings.Replicas > 0)
        {
            try
            {
                return await ReplicaStorm.RunAsync(settings, _env, parse.GetValue(_options.Json), _time, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await _env.Error.WriteLineAsync("lockfree: interrupted.");
                return ExitCodes.Interrupted;
            }
            catch (Exception ex)
            {
                await _env.Error.WriteLineAsync($"lockfree: the replica storm could not run: {ex.GetType().Name}: {FirstLine(ex.Message)}");
                return ExitCodes.Failed;
            }
        }

        var output = StormOutput.Choose(_env, _time, parse.GetValue(_options.Json), parse.GetValue(_options.Plain));
        return await StormAsync(settings, output, cancellationToken);
    }

    // One replica process of `storm --replicas` (hidden command): runs, prints one JSON line, exits 0 (1 if it could not run).
    private async Task<int> ReplicaAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var key = _env.GetVariable("LOCKFREE_SHARED_KEY");
        TokenContainer? seed = null;
        if (parse.GetValue(_options.ReplicaSeedStdin))
        {
            seed = ReplicaProcess.DeserializeSeed(await _env.In.ReadLineAsync(cancellationToken));
            if (seed is null)
            {
                await _env.Error.WriteLineAsync("lockfree replica: --seed-stdin: no token set on standard input.");
                return ExitCodes.Failed;
            }
        }

        var settings = new ReplicaSettings(
            parse.GetValue(_options.ReplicaServer)!,
            parse.GetValue(_options.ReplicaRedis),
            parse.GetValue(_options.ReplicaPrefix)!,
            parse.GetValue(_options.ReplicaCallers),
            parse.GetValue(_options.ReplicaSeconds) ?? TimeSpan.FromSeconds(10),
            parse.GetValue(_options.ReplicaIndex),
            parse.GetValue(_options.ReplicaClientId)!,
            _env.GetVariable("LOCKFREE_CLIENT_SECRET") ?? string.Empty,
            string.IsNullOrEmpty(key) ? null : Convert.FromHexString(key),
            seed);
        try
        {
            var report = await ReplicaProcess.RunAsync(settings, cancellationToken);
            await _env.Out.WriteLineAsync(ReplicaProcess.Serialize(report));
            return ExitCodes.Passed;
        }
        catch (Exception ex)
        {
            await _env.Error.WriteLineAsync($"lockfree replica: {ex.GetType().Name}: {FirstLine(ex.Message)}");
            return ExitCodes.Failed;
        }
    }

    private async Task<int> UsageErrorAsync(IEnumerable<string> messages)
    {
        foreach (var message in messages)
        {
            await _env.Error.WriteLineAsync("lockfree: " + message);
        }

        await _env.Error.WriteLineAsync("Run 'lockfree --help' to see every option.");
        return ExitCodes.Usage;
    }

    private async Task<int> StormAsync(StormSettings settings, StormOutput output, CancellationToken cancellationToken)
    {
        StormResult result;
        try
        {
            result = await StormRunner.RunAsync(settings, _time, output.MonitorAsync, cancellationToken);
        }
        catch (ArgumentException ex)
        {
            // The provider refused its settings (for example a non-HTTPS endpoint that is not loopback).
            await _env.Error.WriteLineAsync("lockfree: invalid settings: " + FirstLine(ex.Message));
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await _env.Error.WriteLineAsync("lockfree: interrupted before the storm started.");
            return ExitCodes.Interrupted;
        }
        catch (OAuthException ex) when (settings.Login is not null)
        {
            // Typed: a denial (ErrorResponse access_denied), a timeout (AuthorizationTimedOut), no browser (UserAgentUnavailable).
            var hint = ex.Reason == OAuthFailureReason.UserAgentUnavailable ? " Run with --no-browser to print the URL instead." : string.Empty;
            await _env.Error.WriteLineAsync($"lockfree login: the sign-in failed ({ex.Reason}{(ex.Error is null ? "" : ": " + ex.Error)}): {FirstLine(ex.Message)}{hint}");
            return ExitCodes.Failed;
        }
        catch (Exception ex)
        {
            // Never a stack trace: the type and the first line of the message (which carries no secret) is enough.
            await _env.Error.WriteLineAsync($"lockfree: the storm could not run: {ex.GetType().Name}: {FirstLine(ex.Message)}");
            return ExitCodes.Failed;
        }

        await output.WriteResultAsync(result);
        return result.Interrupted ? ExitCodes.Interrupted : result.Passed ? ExitCodes.Passed : ExitCodes.Failed;
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
