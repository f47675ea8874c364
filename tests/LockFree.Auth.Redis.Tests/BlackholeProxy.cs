using System.Net;
using System.Net.Sockets;

namespace LockFree.Auth.Redis.Tests;

/// <summary>
/// A TCP proxy on a free loopback port in front of one target (the test's redis-server), for the fault tests: it
/// forwards bytes both ways until <see cref="Blackhole"/> is called; from then on it keeps every connection open and
/// accepts new ones, but forwards nothing in either direction (a network partition that drops packets rather than
/// resetting connections: the client sees only timeouts). Disposing it closes everything it opened.
/// </summary>
internal sealed class BlackholeProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = [];
    private readonly Task _accepting;
    private volatile bool _blackholed;
    private long _dropped;

    private BlackholeProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>The endpoint to give the client instead of the target's.</summary>
    public string Endpoint => "127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Bytes dropped since <see cref="Blackhole"/> (proof that the client kept talking into the void).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public static BlackholeProxy Start(int targetPort) => new(targetPort);

    /// <summary>From now on nothing is forwarded; connections stay open.</summary>
    public void Blackhole() => _blackholed = true;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            lock (_connections)
            {
                _connections.Add(client);
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            if (_blackholed)
            {
                await PumpAsync(client.GetStream(), null);
                return;
            }

            var upstream = new TcpClient();
            lock (_connections)
            {
                _connections.Add(upstream);
            }

            await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            await Task.WhenAll(PumpAsync(client.GetStream(), upstream.GetStream()), PumpAsync(upstream.GetStream(), client.GetStream()));
        }
        catch (Exception)
        {
            // A closed connection or the proxy's disposal: nothing to report.
        }
    }

    // Copies from → to while not blackholed; afterwards reads and drops (so the sender never sees a closed socket).
    private async Task PumpAsync(NetworkStream from, NetworkStream? to)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var read = await from.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                if (!_blackholed)
                {
                    to?.Socket.Shutdown(SocketShutdown.Send);
                }

                return;
            }

            if (_blackholed || to is null)
            {
                Interlocked.Add(ref _dropped, read);
                continue;
            }

            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_connections)
        {
            foreach (var connection in _connections)
            {
                connection.Dispose();
            }
        }

        try
        {
            await _accepting.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
            // Stopped.
        }

        _stop.Dispose();
    }
}
