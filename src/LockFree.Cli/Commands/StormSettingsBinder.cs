using System.CommandLine;
using LockFree.Cli.Providers;
using LockFree.Cli.Storm;
using LockFree.Auth.OAuth;

namespace LockFree.Cli.Commands;

/// <summary>
/// Binds a parse result that passed the option checks into <see cref="StormSettings"/>: defaults, the <c>LOCKFREE_*</c>
/// environment variables behind the external-server options, and the rules about which options go together.
/// </summary>
internal static class StormSettingsBinder
{
    /// <summary>The settings of the storm (and, for <c>login</c>, of the sign-in before it).</summary>
    /// <exception cref="UsageException">The options do not fit together.</exception>
    public static StormSettings Bind(ParseResult parse, CliOptions options, CliEnvironment env)
    {
        var settings = BindStorm(parse, options, env);
        return parse.CommandResult.Command.Name == "login" ? BindLogin(parse, options, env, settings) : settings;
    }

    private static StormSettings BindLogin(ParseResult parse, CliOptions options, CliEnvironment env, StormSettings settings)
    {
        var noBrowser = parse.GetValue(options.NoBrowser);
        Func<Uri, CancellationToken, Task> launcher = noBrowser
            ? SystemBrowserAuthorization.PrintUrl(env.Error)
            : async (uri, ct) =>
            {
                await env.Error.WriteLineAsync("lockfree login: opening the sign-in page in the system browser (if none opens, run with --no-browser).");
                await SystemBrowserAuthorization.OpenSystemBrowserAsync(uri, ct);
            };
        return settings with { Provider = StormProviders.ClientOAuth, Login = new LoginSettings(noBrowser, parse.GetValue(options.LoginTimeout) ?? TimeSpan.FromMinutes(5), launcher) };
    }

    private static StormSettings BindStorm(ParseResult parse, CliOptions options, CliEnvironment env)
    {
        string? FromEnv(Option<string?> option, string variable) =>
            parse.GetValue(option) is { Length: > 0 } v ? v : env.GetVariable(variable) is { Length: > 0 } e ? e : null;

        Uri? UrlFromEnv(Option<Uri?> option, string variable)
        {
            if (parse.GetValue(option) is { } uri)
            {
                return uri;
            }

            var text = env.GetVariable(variable);
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }

            return OptionValues.TryParseUrl(text, out var parsed, out var error)
                ? parsed
                : throw new UsageException($"{variable}: {error}");
        }

        bool Given(Option option) => parse.GetResult(option) is { Implicit: false };

        var authority = UrlFromEnv(options.Authority, "LOCKFREE_AUTHORITY");
        var provider = parse.GetValue(options.Provider)!;
        var settings = new StormSettings
        {
            Clients = parse.GetValue(options.Clients),
            Duration = parse.GetValue(options.Duration) ?? TimeSpan.FromSeconds(20),
            TokenLifetime = parse.GetValue(options.TokenLifetime) ?? TimeSpan.FromSeconds(2),
            RevokeEvery = parse.GetValue(options.RevokeEvery) ?? TimeSpan.FromSeconds(4),
            Provider = provider,
            Authority = authority,
            Resource = UrlFromEnv(options.Resource, "LOCKFREE_RESOURCE"),
            ClientId = FromEnv(options.ClientId, "LOCKFREE_CLIENT_ID"),
            ClientSecret = FromEnv(options.ClientSecret, "LOCKFREE_CLIENT_SECRET"),
            Scope = FromEnv(options.Scope, "LOCKFREE_SCOPE"),
            IdpTokenEndpoint = UrlFromEnv(options.IdpTokenEndpoint, "LOCKFREE_IDP_TOKEN_ENDPOINT"),
            IdpClientId = FromEnv(options.IdpClientId, "LOCKFREE_IDP_CLIENT_ID"),
            IdpClientSecret = FromEnv(options.IdpClientSecret, "LOCKFREE_IDP_CLIENT_SECRET"),
            IdToken = FromEnv(options.IdToken, "LOCKFREE_ID_TOKEN"),
            Replicas = parse.GetValue(options.Replicas),
            SharedStore = !parse.GetValue(options.NoSharedStore),
            Redis = parse.GetValue(options.Redis),
        };

        if (settings.Replicas > 0)
        {
            if (authority is not null || parse.CommandResult.Command.Name == "login")
            {
                throw new UsageException("--replicas runs against the embedded server only (not with --authority or login).");
            }

            if (Given(options.Provider) && provider != StormProviders.ClientOAuth)
            {
                throw new UsageException("--replicas runs the client-oauth provider (ClientOAuthProvider with SharedTokens); omit --provider.");
            }

            if (Given(options.RevokeEvery))
            {
                throw new UsageException("--revoke-every does not apply to --replicas (the replica storm measures token sharing, without revocations).");
            }

            if (Given(options.Redis) && !settings.SharedStore)
            {
                throw new UsageException("--redis and --no-shared-store contradict each other: the baseline uses no Redis.");
            }

            return settings with
            {
                Clients = Given(options.Clients) ? settings.Clients : 64,
                Duration = parse.GetValue(options.Duration) ?? TimeSpan.FromSeconds(10),
                RevokeEvery = TimeSpan.Zero,
            };
        }

        foreach (var option in new Option[] { options.NoSharedStore, options.Redis })
        {
            if (Given(option))
            {
                throw new UsageException($"{option.Name} applies to --replicas only.");
            }
        }

        if (settings.Embedded)
        {
            foreach (var option in options.ExternalOnly)
            {
                if (Given(option))
                {
                    throw new UsageException($"{option.Name} needs --authority (without it the storm runs against the embedded server, which brings its own client).");
                }
            }

            return settings;
        }

        foreach (var option in options.EmbeddedOnly)
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
}
