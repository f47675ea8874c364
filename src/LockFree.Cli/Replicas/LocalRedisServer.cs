using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LockFree.Cli.Replicas;

/// <summary>
/// A throwaway <c>redis-server</c> the replica storm starts itself: 127.0.0.1, a free port, no RDB, no AOF, protected
/// mode; killed at the end. A Redis the storm did not start (<c>--redis</c>) is only pinged here; the replicas write
/// keys under a random prefix there, each expiring at most 5 minutes after the run.
/// </summary>
internal sealed class LocalRedisServer : IAsyncDisposable
{
    private readonly Process _process;

    private LocalRedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The StackExchange.Redis endpoint.</summary>
    public string Endpoint => "127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The <c>redis-server</c> executable on PATH (or the usual places), or null.</summary>
    public static string? Find()
    {
        var name = OperatingSystem.IsWindows() ? "redis-server.exe" : "redis-server";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                     .Concat(["/usr/bin", "/usr/local/bin", "/usr/sbin", "/opt/homebrew/bin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Starts <paramref name="executable"/> on a free loopback port and waits (at most 30 s) until it answers PING.</summary>
    public static async Task<LocalRedisServer> StartAsync(string executable, CancellationToken cancellationToken)
    {
        var port = FreePort();
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes" })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new LocalRedisServer(process, port);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await server.WaitUntilAnsweringAsync(timeout.Token);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _process.Dispose();
    }

    /// <summary>
    /// Whether the Redis at <paramref name="endpoint"/> (<c>--redis HOST:PORT</c>, not started here) answers a PING
    /// within 5 s: <see langword="null"/> if it does, else what went wrong (no secret involved: an endpoint only).
    /// </summary>
    public static async Task<string?> PingAsync(string endpoint, CancellationToken cancellationToken)
    {
        try
        {
            await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(new StackExchange.Redis.ConfigurationOptions
            {
                EndPoints = { endpoint },
                AbortOnConnectFail = true,
                ConnectTimeout = 5000,
                ConnectRetry = 1,
            }).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return null;
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException or SocketException)
        {
            return ex.GetType().Name;
        }
    }

    private async Task WaitUntilAnsweringAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode} before answering on port {Port}.");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken);
                var buffer = new byte[16];
                if (await stream.ReadAsync(buffer, cancellationToken) > 0 && buffer[0] == (byte)'+')
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
