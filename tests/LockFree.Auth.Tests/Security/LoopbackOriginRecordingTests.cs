using System.Net.Sockets;
using System.Text;

namespace LockFree.Auth.Tests.Security;

/// <summary>The fixture's extensions: an aborted body is recorded with what arrived, so a half-sent secret is still caught.</summary>
public sealed class LoopbackOriginRecordingTests
{
    [Fact]
    public async Task AbortedBody_RecordedIncompleteAndSearched()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        var uri = origin.Url("/token");
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(uri.Host, uri.Port).WaitAsync(TimeSpan.FromSeconds(10));
            var stream = tcp.GetStream();
            var head = $"POST /token HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nclient_secret=half-sent-SECRET";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head)).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            await stream.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
            await WaitUntilAsync(() => origin.BodyBytesReceived >= "client_secret=half-sent-SECRET".Length, TimeSpan.FromSeconds(10));
        }

        await WaitUntilAsync(() => origin.Requests.Count > 0, TimeSpan.FromSeconds(10));
        var recorded = Assert.Single(origin.Requests);
        Assert.False(recorded.Complete);
        Assert.Contains("half-sent-SECRET", recorded.Body, StringComparison.Ordinal);
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => origin.AssertReceivedNone(("half-sent secret", "half-sent-SECRET")));
    }

    [Fact]
    public async Task Trickle_SendsHeadersAtOnceThenOneBytePerInterval()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapTrickle("/slow", TimeSpan.FromMilliseconds(50), bytes: 3);
        using var http = new HttpClient();

        using var response = await http.GetAsync(origin.Url("/slow"), HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(10));
        var body = await response.Content.ReadAsStringAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("   ", body);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        while (!condition() && !cts.IsCancellationRequested)
        {
            await Task.Delay(10);
        }
    }
}
