using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LockFree.Auth;
using LockFree.Cli.Output;
using LockFree.Cli.Providers;
using LockFree.Cli.Storm;
using Spectre.Console;
using Spectre.Console.Rendering;
using LockFree.Auth.OAuth;

namespace LockFree.Cli;

/// <summary>Exit codes of <c>lockfree</c>.</summary>
internal static class ExitCodes
{
    public const int Passed = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;
}

/// <summary>Where the CLI writes and what it reads from the environment (the process's own, or a test's).</summary>
internal sealed record CliEnvironment(TextWriter Out, TextWriter Error, Func<string, string?> GetVariable, bool OutputIsTerminal)
{
    public static CliEnvironment FromProcess() => new(
        Console.Out,
        Console.Error,
        Environment.GetEnvironmentVariable,
        !Console.IsOutputRedirected);
}

/// <summary>The <c>lockfree</c> command line: <c>storm</c> (the default command) and its options.</summary>
internal sealed class CliApp
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly CliEnvironment _env;
    private readonly TimeProvider _time;

    private readonly Option<int> _clients = new("--clients", "-c")
    {
        Description = "Concurrent clients, all sharing one provider and one HttpClient.",
        HelpName = "N",
        DefaultValueFactory = _ => 256,
    };

    private readonly Option<TimeSpan?> _duration = new("--duration", "-d")
    {
        Description = "How long the storm runs (e.g. 20s, 500ms, 1m; a bare number is seconds). [default: 20s]",
        HelpName = "TIME",
        CustomParser = ParseDuration,
    };

    private readonly Option<TimeSpan?> _tokenLifetime = new("--token-lifetime")
    {
        Description = "Embedded server: lifetime (expires_in) of every access token, whole seconds. [default: 2s]",
        HelpName = "TIME",
        CustomParser = ParseDuration,
    };

    private readonly Option<TimeSpan?> _revokeEvery = new("--revoke-every")
    {
        Description = "Embedded server: revoke the current access token this often, so requests get 401s (0 = never). [default: 4s]",
        HelpName = "TIME",
        CustomParser = ParseDuration,
    };

    private readonly Option<string> _provider = new("--provider", "-p")
    {
        Description = "The auth provider under test: client-oauth = ClientOAuthHandler with the client-credentials grant; " +
            "cross-app = CrossApplicationAccessHandler (ID token -> ID-JAG -> JWT-bearer, embedded IdP); " +
            "core = the bare AuthCoordinator with a minimal client-credentials handler; " +
            "naive = a plain cached field without coalescing, the baseline (expected to fail: exchanges exceed the ideal).",
        DefaultValueFactory = _ => StormProviders.Default,
    };

    private readonly Option<Uri?> _authority = new("--authority")
    {
        Description = "Run against this real authorization server (issuer URL) instead of the embedded one. Env: LOCKFREE_AUTHORITY.",
        HelpName = "URL",
        CustomParser = ParseUrl,
    };

    private readonly Option<Uri?> _resource = new("--resource")
    {
        Description = "With --authority: the protected resource every client calls (GET). Env: LOCKFREE_RESOURCE.",
        HelpName = "URL",
        CustomParser = ParseUrl,
    };

    private readonly Option<string?> _clientId = new("--client-id")
    {
        Description = "With --authority: the OAuth client ID. Env: LOCKFREE_CLIENT_ID.",
        HelpName = "ID",
    };

    private readonly Option<string?> _clientSecret = new("--client-secret")
    {
        Description = "With --authority: the client secret (prefer the env var LOCKFREE_CLIENT_SECRET; never printed).",
        HelpName = "SECRET",
    };

    private readonly Option<string?> _scope = new("--scope")
    {
        Description = "With --authority: the scope to request. Env: LOCKFREE_SCOPE.",
        HelpName = "SCOPE",
    };

    private readonly Option<Uri?> _idpTokenEndpoint = new("--idp-token-endpoint")
    {
        Description = "With --authority and --provider cross-app: the enterprise IdP's token endpoint. Env: LOCKFREE_IDP_TOKEN_ENDPOINT.",
        HelpName = "URL",
        CustomParser = ParseUrl,
    };

    private readonly Option<string?> _idpClientId = new("--idp-client-id")
    {
        Description = "With --authority and --provider cross-app: the client ID at the IdP. Env: LOCKFREE_IDP_CLIENT_ID.",
        HelpName = "ID",
    };

    private readonly Option<string?> _idpClientSecret = new("--idp-client-secret")
    {
        Description = "With --authority and --provider cross-app: the client secret at the IdP (prefer LOCKFREE_IDP_CLIENT_SECRET).",
        HelpName = "SECRET",
    };

    private readonly Option<string?> _idToken = new("--id-token")
    {
        Description = "With --authority and --provider cross-app: the user's ID token (prefer LOCKFREE_ID_TOKEN).",
        HelpName = "JWT",
    };

    private readonly Option<bool> _noBrowser = new("--no-browser")
    {
        Description = "login: print the sign-in URL instead of opening the system browser (open it on this machine: the redirect goes to 127.0.0.1).",
    };

    private readonly Option<TimeSpan?> _loginTimeout = new("--login-timeout")
    {
        Description = "login: how long to wait for the sign-in in the browser. [default: 5m]",
        HelpName = "TIME",
        CustomParser = ParseDuration,
    };

    private readonly Option<bool> _json = new("--json")
    {
        Description = "Print only a JSON document with the results (no progress).",
    };

    private readonly Option<bool> _plain = new("--plain")
    {
        Description = "Plain text progress lines, no live view (automatic when output is redirected or CI=true).",
    };

    public CliApp(CliEnvironment env, TimeProvider? time = null)
    {
        _env = env;
        _time = time ?? TimeProvider.System;
        _provider.AcceptOnlyFromAmong(StormProviders.Names);
        Check(_clients, v => v is < 1 or > 10_000 ? "--clients must be between 1 and 10000." : null);
        Check(_duration, v => v is null ? null : v <= TimeSpan.Zero || v > TimeSpan.FromHours(1) ? "--duration must be more than 0 and at most 1 hour." : null);
        Check(_tokenLifetime, v => v is { } t && (t < TimeSpan.FromSeconds(1) || t > TimeSpan.FromHours(1) || t.Ticks % TimeSpan.TicksPerSecond != 0)
            ? "--token-lifetime must be whole seconds, from 1 s to 1 hour (expires_in is an integer)."
            : null);
        Check(_loginTimeout, v => v is { } t && (t < TimeSpan.FromSeconds(1) || t > TimeSpan.FromHours(1))
            ? "--login-timeout must be from 1 s to 1 hour."
            : null);
        Check(_revokeEvery, v => v is { } t && (t < TimeSpan.Zero || (t > TimeSpan.Zero && t < TimeSpan.FromMilliseconds(100)))
            ? "--revoke-every must be 0 (never) or at least 100ms."
            : null);
    }

    // Range checks run only on values that parsed (a value that did not parse already has its own error).
    private static void Check<T>(Option<T> option, Func<T, string?> check) => option.Validators.Add(r =>
    {
        if (r.Tokens.Count == 0 && r.Implicit)
        {
            return;
        }

        T value;
        try
        {
            value = r.GetValueOrDefault<T>();
        }
        catch (InvalidOperationException)
        {
            return;
        }

        if (check(value) is { } error)
        {
            r.AddError(error);
        }
    });

    /// <summary>Runs the command line and returns the exit code. Never throws for bad input.</summary>
    public static Task<int> RunAsync(string[] args, CliEnvironment env, CancellationToken cancellationToken = default) =>
        new CliApp(env).InvokeAsync(args, cancellationToken);

    public async Task<int> InvokeAsync(string[] args, CancellationToken cancellationToken)
    {
        var root = BuildCommand();
        var parse = root.Parse(args);
        var config = new InvocationConfiguration { Output = _env.Out, Error = _env.Error, EnableDefaultExceptionHandler = false };
        if (parse.Action is HelpAction || (parse.Errors.Count == 0 && parse.GetResult(root.Options.OfType<VersionOption>().First()) is not null))
        {
            return await parse.InvokeAsync(config, cancellationToken);
        }

        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await _env.Error.WriteLineAsync("lockfree: " + error.Message);
            }

            await _env.Error.WriteLineAsync("Run 'lockfree --help' to see every option.");
            return ExitCodes.Usage;
        }

        StormSettings settings;
        try
        {
            settings = BindSettings(parse);
            if (parse.CommandResult.Command.Name == "login")
            {
                settings = BindLogin(parse, settings);
            }
        }
        catch (UsageException ex)
        {
            await _env.Error.WriteLineAsync("lockfree: " + ex.Message);
            await _env.Error.WriteLineAsync("Run 'lockfree --help' to see every option.");
            return ExitCodes.Usage;
        }

        return await StormAsync(settings, parse.GetValue(_json), parse.GetValue(_plain), cancellationToken);
    }

    private RootCommand BuildCommand()
    {
        var storm = new Command("storm", "Token storm (the default command): N concurrent clients through one auth provider against an OAuth-protected resource, then a summary.");
        var root = new RootCommand(
            "lockfree: a token storm against an embedded OAuth authorization server, proving that LockFree.Auth coalesces token exchanges under concurrency. " +
            "Runs 'storm' when no command is given. Exit codes: 0 pass, 1 a request failed or exchanges exceeded the ideal, 2 bad options, 130 interrupted.");
        foreach (var option in new Option[]
        {
            _clients, _duration, _provider, _tokenLifetime, _revokeEvery, _json, _plain,
            _authority, _resource, _clientId, _clientSecret, _scope, _idpTokenEndpoint, _idpClientId, _idpClientSecret, _idToken,
        })
        {
            storm.Options.Add(option);
            root.Options.Add(option);
        }

        var login = new Command("login",
            "Sign in through the browser, then run the storm on that token: authorization code + PKCE against the embedded server's login page " +
            "(user name, consent, Allow/Deny), the redirect received on a 127.0.0.1 loopback listener (RFC 8252), every later token from the refresh token.");
        foreach (var option in new Option[] { _clients, _duration, _tokenLifetime, _revokeEvery, _json, _plain, _noBrowser, _loginTimeout })
        {
            login.Options.Add(option);
        }

        // The storm itself runs after validation in InvokeAsync; the actions only mark the commands as runnable.
        storm.SetAction(static _ => ExitCodes.Passed);
        login.SetAction(static _ => ExitCodes.Passed);
        root.SetAction(static _ => ExitCodes.Passed);
        root.Subcommands.Add(storm);
        root.Subcommands.Add(login);
        return root;
    }

    private StormSettings BindLogin(ParseResult parse, StormSettings settings)
    {
        var noBrowser = parse.GetValue(_noBrowser);
        Func<Uri, CancellationToken, Task> launcher = noBrowser
            ? SystemBrowserAuthorization.PrintUrl(_env.Error)
            : async (uri, ct) =>
            {
                await _env.Error.WriteLineAsync("lockfree login: opening the sign-in page in the system browser (if none opens, run with --no-browser).");
                await SystemBrowserAuthorization.OpenSystemBrowserAsync(uri, ct);
            };
        return settings with { Provider = StormProviders.ClientOAuth, Login = new LoginSettings(noBrowser, parse.GetValue(_loginTimeout) ?? TimeSpan.FromMinutes(5), launcher) };
    }

    private StormSettings BindSettings(ParseResult parse)
    {
        string? FromEnv(Option<string?> option, string variable) =>
            parse.GetValue(option) is { Length: > 0 } v ? v : _env.GetVariable(variable) is { Length: > 0 } e ? e : null;

        Uri? UrlFromEnv(Option<Uri?> option, string variable)
        {
            if (parse.GetValue(option) is { } uri)
            {
                return uri;
            }

            var text = _env.GetVariable(variable);
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }

            return TryParseUrl(text, out var parsed, out var error)
                ? parsed
                : throw new UsageException($"{variable}: {error}");
        }

        bool Given(Option option) => parse.GetResult(option) is { Implicit: false };

        var authority = UrlFromEnv(_authority, "LOCKFREE_AUTHORITY");
        var provider = parse.GetValue(_provider)!;
        var settings = new StormSettings
        {
            Clients = parse.GetValue(_clients),
            Duration = parse.GetValue(_duration) ?? TimeSpan.FromSeconds(20),
            TokenLifetime = parse.GetValue(_tokenLifetime) ?? TimeSpan.FromSeconds(2),
            RevokeEvery = parse.GetValue(_revokeEvery) ?? TimeSpan.FromSeconds(4),
            Provider = provider,
            Authority = authority,
            Resource = UrlFromEnv(_resource, "LOCKFREE_RESOURCE"),
            ClientId = FromEnv(_clientId, "LOCKFREE_CLIENT_ID"),
            ClientSecret = FromEnv(_clientSecret, "LOCKFREE_CLIENT_SECRET"),
            Scope = FromEnv(_scope, "LOCKFREE_SCOPE"),
            IdpTokenEndpoint = UrlFromEnv(_idpTokenEndpoint, "LOCKFREE_IDP_TOKEN_ENDPOINT"),
            IdpClientId = FromEnv(_idpClientId, "LOCKFREE_IDP_CLIENT_ID"),
            IdpClientSecret = FromEnv(_idpClientSecret, "LOCKFREE_IDP_CLIENT_SECRET"),
            IdToken = FromEnv(_idToken, "LOCKFREE_ID_TOKEN"),
        };

        if (settings.Embedded)
        {
            foreach (var option in new Option[] { _resource, _clientId, _clientSecret, _scope, _idpTokenEndpoint, _idpClientId, _idpClientSecret, _idToken })
            {
                if (Given(option))
                {
                    throw new UsageException($"{option.Name} needs --authority (without it the storm runs against the embedded server, which brings its own client).");
                }
            }

            return settings;
        }

        foreach (var option in new Option[] { _tokenLifetime, _revokeEvery })
        {
            if (Given(option))
            {
                throw new UsageException($"{option.Name} applies to the embedded server only; a real server decides lifetimes and revocations.");
            }
        }

        if (settings.Resource is null)
        {
            throw new UsageException("--authority needs --resource (or LOCKFREE_RESOURCE): the protected resource the clients call.");
        }

        if (settings.ClientId is null)
        {
            throw new UsageException("--authority needs --client-id (or LOCKFREE_CLIENT_ID).");
        }

        if (provider == StormProviders.CrossApp
            && (settings.IdpTokenEndpoint is null || settings.IdpClientId is null || settings.IdToken is null))
        {
            throw new UsageException("--provider cross-app with --authority needs --idp-token-endpoint, --idp-client-id and --id-token (or their LOCKFREE_* variables).");
        }

        return settings;
    }

    private async Task<int> StormAsync(StormSettings settings, bool json, bool plain, CancellationToken cancellationToken)
    {
        var ci = string.Equals(_env.GetVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) || _env.GetVariable("CI") == "1";
        var live = !json && !plain && !ci && _env.OutputIsTerminal;
        StormResult result;
        try
        {
            result = json
                ? await StormRunner.RunAsync(settings, _time, static (_, storm) => storm, cancellationToken)
                : live
                    ? await StormRunner.RunAsync(settings, _time, LiveMonitorAsync, cancellationToken)
                    : await StormRunner.RunAsync(settings, _time, PlainMonitorAsync, cancellationToken);
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

        if (json)
        {
            await _env.Out.WriteLineAsync(JsonSerializer.Serialize(result, JsonOptions));
        }
        else if (live)
        {
            WriteLiveSummary(result);
        }
        else
        {
            await _env.Out.WriteAsync(SummaryText.Render(result));
        }

        return result.Interrupted ? ExitCodes.Interrupted : result.Passed ? ExitCodes.Passed : ExitCodes.Failed;
    }

    private async Task PlainMonitorAsync(StormLive live, Task storm)
    {
        await _env.Out.WriteLineAsync(SummaryText.Header(live.Settings, live.ProviderDescription, live.Resource));
        var every = live.Settings.Duration >= TimeSpan.FromSeconds(20) ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(Math.Max(1, live.Settings.Duration.TotalSeconds / 4));
        while (!storm.IsCompleted)
        {
            await Task.WhenAny(storm, Task.Delay(every, _time));
            if (!storm.IsCompleted)
            {
                await _env.Out.WriteLineAsync(SummaryText.Progress(live));
            }
        }

        await _env.Out.WriteLineAsync(SummaryText.Progress(live));
    }

    private IAnsiConsole CreateConsole() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(_env.Out),
        Ansi = AnsiSupport.Detect,
        ColorSystem = ColorSystemSupport.Detect,
        Interactive = InteractionSupport.Yes,
    });

    private async Task LiveMonitorAsync(StormLive live, Task storm)
    {
        var console = CreateConsole();
        console.WriteLine(SummaryText.Header(live.Settings, live.ProviderDescription, live.Resource));
        await console.Live(LiveTable(live)).AutoClear(false).StartAsync(async ctx =>
        {
            while (!storm.IsCompleted)
            {
                await Task.WhenAny(storm, Task.Delay(TimeSpan.FromMilliseconds(200), _time));
                ctx.UpdateTarget(LiveTable(live));
                ctx.Refresh();
            }
        });
    }

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

    private void WriteLiveSummary(StormResult result)
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
    }

    // ------------------------------------------------------------------ value parsing

    private static TimeSpan? ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (TryParseDuration(text, out var value))
        {
            return value;
        }

        result.AddError($"'{text}' is not a duration for {(result.Parent as OptionResult)?.Option.Name}: use e.g. 20s, 500ms, 2m or a number of seconds.");
        return null;
    }

    internal static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim().ToLowerInvariant();
        (string suffix, double scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        var scale = 1.0;
        foreach (var (suffix, s) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal))
            {
                text = text[..^suffix.Length];
                scale = s;
                break;
            }
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || double.IsNaN(number) || double.IsInfinity(number) || number * scale > 1e7)
        {
            return false;
        }

        value = TimeSpan.FromSeconds(number * scale);
        return true;
    }

    private static Uri? ParseUrl(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (TryParseUrl(text, out var uri, out var error))
        {
            return uri;
        }

        result.AddError($"{(result.Parent as OptionResult)?.Option.Name}: {error}");
        return null;
    }

    private static bool TryParseUrl(string text, out Uri? uri, out string error)
    {
        error = string.Empty;
        if (!Uri.TryCreate(text, UriKind.Absolute, out uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            error = $"'{text}' is not an absolute http(s) URL.";
            uri = null;
            return false;
        }

        if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback)
        {
            error = $"'{text}' uses http: only loopback addresses may (use https).";
            uri = null;
            return false;
        }

        return true;
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    private sealed class UsageException(string message) : Exception(message);
}
