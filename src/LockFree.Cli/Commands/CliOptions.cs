using System.CommandLine;
using LockFree.Cli.Providers;

namespace LockFree.Cli.Commands;

/// <summary>
/// The schema of the <c>lockfree</c> command line: every option with its help text and range check, and the command
/// tree (<c>storm</c>, the default command, and <c>login</c>). Binding the parsed values is <see cref="StormSettingsBinder"/>'s job.
/// </summary>
internal sealed class CliOptions
{
    public CliOptions()
    {
        Provider.AcceptOnlyFromAmong(StormProviders.Names);
        Check(Clients, v => v is < 1 or > 10_000 ? "--clients must be between 1 and 10000." : null);
        Check(Duration, v => v is null ? null : v <= TimeSpan.Zero || v > TimeSpan.FromHours(1) ? "--duration must be more than 0 and at most 1 hour." : null);
        Check(TokenLifetime, v => v is { } t && (t < TimeSpan.FromSeconds(1) || t > TimeSpan.FromHours(1) || t.Ticks % TimeSpan.TicksPerSecond != 0)
            ? "--token-lifetime must be whole seconds, from 1 s to 1 hour (expires_in is an integer)."
            : null);
        Check(LoginTimeout, v => v is { } t && (t < TimeSpan.FromSeconds(1) || t > TimeSpan.FromHours(1))
            ? "--login-timeout must be from 1 s to 1 hour."
            : null);
        Check(Redis, v => v is null || OptionValues.IsHostAndPort(v) ? null : "--redis must be HOST:PORT (for example 127.0.0.1:6379).");
        Check(Replicas, v => v is < 0 or > 32 ? "--replicas must be between 0 (one process) and 32." : null);
        Check(ReplicaCallers, v => v is < 1 or > 10_000 ? "--callers must be between 1 and 10000." : null);
        Check(RevokeEvery, v => v is { } t && (t < TimeSpan.Zero || (t > TimeSpan.Zero && t < TimeSpan.FromMilliseconds(100)))
            ? "--revoke-every must be 0 (never) or at least 100ms."
            : null);
    }

    public Option<int> Clients { get; } = new("--clients", "-c")
    {
        Description = "Concurrent clients, all sharing one provider and one HttpClient.",
        HelpName = "N",
        DefaultValueFactory = _ => 256,
    };

    public Option<TimeSpan?> Duration { get; } = new("--duration", "-d")
    {
        Description = "How long the storm runs (e.g. 20s, 500ms, 1m; a bare number is seconds). [default: 20s]",
        HelpName = "TIME",
        CustomParser = OptionValues.ParseDuration,
    };

    public Option<TimeSpan?> TokenLifetime { get; } = new("--token-lifetime")
    {
        Description = "Embedded server: lifetime (expires_in) of every access token, whole seconds. [default: 2s]",
        HelpName = "TIME",
        CustomParser = OptionValues.ParseDuration,
    };

    public Option<TimeSpan?> RevokeEvery { get; } = new("--revoke-every")
    {
        Description = "Embedded server: revoke the current access token this often, so requests get 401s (0 = never). [default: 4s]",
        HelpName = "TIME",
        CustomParser = OptionValues.ParseDuration,
    };

    public Option<string> Provider { get; } = new("--provider", "-p")
    {
        Description = "The auth provider under test: client-oauth = ClientOAuthHandler with the client-credentials grant; " +
            "cross-app = CrossApplicationAccessHandler (ID token -> ID-JAG -> JWT-bearer, embedded IdP); " +
            "client-credentials = ClientCredentialsTokenHandler on the ClientCredentialsTokenManager, wired through DI (LockFree.Auth.Extensions); " +
            "core = the bare AuthCoordinator with a minimal client-credentials handler; " +
            "naive = a plain cached field without coalescing, the baseline (expected to fail: exchanges exceed the ideal).",
        DefaultValueFactory = _ => StormProviders.Default,
    };

    public Option<Uri?> Authority { get; } = new("--authority")
    {
        Description = "Run against this real authorization server (issuer URL) instead of the embedded one. Env: LOCKFREE_AUTHORITY.",
        HelpName = "URL",
        CustomParser = OptionValues.ParseUrl,
    };

    public Option<Uri?> Resource { get; } = new("--resource")
    {
        Description = "With --authority: the protected resource every client calls (GET). Env: LOCKFREE_RESOURCE.",
        HelpName = "URL",
        CustomParser = OptionValues.ParseUrl,
    };

    public Option<string?> ClientId { get; } = new("--client-id")
    {
        Description = "With --authority: the OAuth client ID. Env: LOCKFREE_CLIENT_ID.",
        HelpName = "ID",
    };

    public Option<string?> ClientSecret { get; } = new("--client-secret")
    {
        Description = "With --authority: the client secret (prefer the env var LOCKFREE_CLIENT_SECRET; never printed).",
        HelpName = "SECRET",
    };

    public Option<string?> Scope { get; } = new("--scope")
    {
        Description = "With --authority: the scope to request. Env: LOCKFREE_SCOPE.",
        HelpName = "SCOPE",
    };

    public Option<Uri?> IdpTokenEndpoint { get; } = new("--idp-token-endpoint")
    {
        Description = "With --authority and --provider cross-app: the enterprise IdP's token endpoint. Env: LOCKFREE_IDP_TOKEN_ENDPOINT.",
        HelpName = "URL",
        CustomParser = OptionValues.ParseUrl,
    };

    public Option<string?> IdpClientId { get; } = new("--idp-client-id")
    {
        Description = "With --authority and --provider cross-app: the client ID at the IdP. Env: LOCKFREE_IDP_CLIENT_ID.",
        HelpName = "ID",
    };

    public Option<string?> IdpClientSecret { get; } = new("--idp-client-secret")
    {
        Description = "With --authority and --provider cross-app: the client secret at the IdP (prefer LOCKFREE_IDP_CLIENT_SECRET).",
        HelpName = "SECRET",
    };

    public Option<string?> IdToken { get; } = new("--id-token")
    {
        Description = "With --authority and --provider cross-app: the user's ID token (prefer LOCKFREE_ID_TOKEN).",
        HelpName = "JWT",
    };

    public Option<bool> NoBrowser { get; } = new("--no-browser")
    {
        Description = "login: print the sign-in URL instead of opening the system browser (open it on this machine: the redirect goes to 127.0.0.1).",
    };

    public Option<TimeSpan?> LoginTimeout { get; } = new("--login-timeout")
    {
        Description = "login: how long to wait for the sign-in in the browser. [default: 5m]",
        HelpName = "TIME",
        CustomParser = OptionValues.ParseDuration,
    };

    public Option<int> Replicas { get; } = new("--replicas")
    {
        Description = "Run N replica processes of one client-credentials client (ClientOAuthProvider) against the embedded server, all started from one sign-in (the same token set and refresh token), " +
            "sharing one token through a redis-server the storm starts itself on loopback (needs redis-server on PATH; or --redis HOST:PORT). -c is then the callers per replica [default: 64], -d defaults to 10s; " +
            "passes when all replicas together exchange no more than the ideal of ONE client, with 0 invalid_grant (0 = the one-process storm).",
        HelpName = "N",
        DefaultValueFactory = _ => 0,
    };

    public Option<bool> NoSharedStore { get; } = new("--no-shared-store")
    {
        Description = "With --replicas: the baseline, without Redis: the replicas present the same refresh token (invalid_grant, the chain revoked).",
    };

    public Option<string?> Redis { get; } = new("--redis")
    {
        Description = "With --replicas: share tokens through an existing Redis at HOST:PORT instead of starting a redis-server " +
            "(keys under a random prefix, each expiring at most 5 minutes after the run).",
        HelpName = "HOST:PORT",
    };

    // The hidden `replica` command: one replica process of `storm --replicas` (secrets in LOCKFREE_CLIENT_SECRET and LOCKFREE_SHARED_KEY).
    public Option<Uri?> ReplicaServer { get; } = new("--server") { CustomParser = OptionValues.ParseUrl, Required = true };

    public Option<string?> ReplicaRedis { get; } = new("--redis");

    public Option<string> ReplicaPrefix { get; } = new("--prefix") { DefaultValueFactory = _ => "lockfree-storm" };

    public Option<int> ReplicaCallers { get; } = new("--callers") { DefaultValueFactory = _ => 64 };

    public Option<TimeSpan?> ReplicaSeconds { get; } = new("--seconds") { CustomParser = OptionValues.ParseDuration };

    public Option<int> ReplicaIndex { get; } = new("--replica") { DefaultValueFactory = _ => 0 };

    public Option<string> ReplicaClientId { get; } = new("--client-id") { DefaultValueFactory = _ => "storm-client" };

    // The shared sign-in: the replica reads one token set (JSON) from standard input before it starts, never from the command line.
    public Option<bool> ReplicaSeedStdin { get; } = new("--seed-stdin");

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print only a JSON document with the results (no progress).",
    };

    public Option<bool> Plain { get; } = new("--plain")
    {
        Description = "Plain text progress lines, no live view (automatic when output is redirected or CI=true).",
    };

    /// <summary>The options that need <c>--authority</c> (the embedded server brings its own client).</summary>
    public IReadOnlyList<Option> ExternalOnly => [Resource, ClientId, ClientSecret, Scope, IdpTokenEndpoint, IdpClientId, IdpClientSecret, IdToken];

    /// <summary>The options that apply to the embedded server only.</summary>
    public IReadOnlyList<Option> EmbeddedOnly => [TokenLifetime, RevokeEvery];

    /// <summary>The command tree: the root runs <c>storm</c> when no command is given, so it takes the storm's options too.</summary>
    public RootCommand BuildRootCommand()
    {
        var storm = new Command("storm", "Token storm (the default command): N concurrent clients through one auth provider against an OAuth-protected resource, then a summary.");
        var root = new RootCommand(
            "lockfree: a token storm against an embedded OAuth authorization server, proving that LockFree.Auth coalesces token exchanges under concurrency. " +
            "Runs 'storm' when no command is given. Exit codes: 0 pass, 1 a request failed or exchanges exceeded the ideal, 2 bad options, 130 interrupted.");
        foreach (var option in new Option[]
        {
            Clients, Duration, Provider, TokenLifetime, RevokeEvery, Replicas, NoSharedStore, Redis, Json, Plain,
            Authority, Resource, ClientId, ClientSecret, Scope, IdpTokenEndpoint, IdpClientId, IdpClientSecret, IdToken,
        })
        {
            storm.Options.Add(option);
            root.Options.Add(option);
        }

        var login = new Command("login",
            "Sign in through the browser, then run the storm on that token: authorization code + PKCE against the embedded server's login page " +
            "(user name, consent, Allow/Deny), the redirect received on a 127.0.0.1 loopback listener (RFC 8252), every later token from the refresh token.");
        foreach (var option in new Option[] { Clients, Duration, TokenLifetime, RevokeEvery, Json, Plain, NoBrowser, LoginTimeout })
        {
            login.Options.Add(option);
        }

        // The storm itself runs after validation in CliApp.InvokeAsync; the actions only mark the commands as runnable.
        storm.SetAction(static _ => ExitCodes.Passed);
        login.SetAction(static _ => ExitCodes.Passed);
        root.SetAction(static _ => ExitCodes.Passed);
        var replica = new Command("replica", "One replica process of 'storm --replicas' (internal).") { Hidden = true };
        foreach (var option in new Option[] { ReplicaServer, ReplicaRedis, ReplicaPrefix, ReplicaCallers, ReplicaSeconds, ReplicaIndex, ReplicaClientId, ReplicaSeedStdin })
        {
            replica.Options.Add(option);
        }

        replica.SetAction(static _ => ExitCodes.Passed);
        root.Subcommands.Add(storm);
        root.Subcommands.Add(login);
        root.Subcommands.Add(replica);
        return root;
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
}
