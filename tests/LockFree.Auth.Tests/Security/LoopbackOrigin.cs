using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LockFree.Auth.Tests.Security;

/// <summary>One request as a <see cref="LoopbackOrigin"/> received it.</summary>
/// <param name="Method">The HTTP method.</param>
/// <param name="PathAndQuery">The path and query, as sent.</param>
/// <param name="Headers">Every request header (values joined with ", ").</param>
/// <param name="Body">The request body as text (UTF-8): what arrived, even when the client gave up sending it.</param>
/// <param name="Complete">False when the body could not be read to its end (the client aborted the request).</param>
internal sealed record RecordedRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, string Body, bool Complete = true)
{
    /// <summary>The path without the query.</summary>
    public string Path => PathAndQuery.Split('?', 2)[0];

    /// <summary>The <c>Authorization</c> header, if any.</summary>
    public string? Authorization => Headers.TryGetValue("Authorization", out var value) ? value : null;

    /// <summary>
    /// Everything a secret could hide in, decoded: headers (a Basic credential base64-decoded), the URL-decoded query
    /// and the URL-decoded body.
    /// </summary>
    public string Searchable
    {
        get
        {
            var text = new StringBuilder();
            text.Append(PathAndQuery).Append('\n').Append(Decode(PathAndQuery)).Append('\n').Append(Body).Append('\n').Append(Decode(Body)).Append('\n');
            foreach (var (name, value) in Headers)
            {
                text.Append(name).Append(": ").Append(value).Append('\n');
                if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase) && value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
                {
                    try
                    {
                        text.Append(Decode(Encoding.UTF8.GetString(Convert.FromBase64String(value[6..].Trim())))).Append('\n');
                    }
                    catch (FormatException)
                    {
                        // Not base64: the raw value is already searchable.
                    }
                }
            }

            return text.ToString();
        }
    }

    private static string Decode(string text)
    {
        try
        {
            return Uri.UnescapeDataString(text.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return text;
        }
    }
}

/// <summary>
/// A real HTTP/1.1 server (Kestrel) on a loopback address and an ephemeral port: one origin of the adversarial suite.
/// Each test scripts its routes with <see cref="Map"/> (an unmapped path answers 404) and reads back every request the
/// origin received, so a test can assert what another host was sent (a request whose body was aborted half-way is
/// recorded too, with what arrived). Stops on <see cref="DisposeAsync"/> (and with the test host).
/// </summary>
/// <remarks>Concurrency: routes and the request log are concurrent collections; handlers run on Kestrel's threads.</remarks>
internal sealed class LoopbackOrigin : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<HttpContext, RecordedRequest, Task>> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private long _bodyBytes;

    private LoopbackOrigin(WebApplication app) => _app = app;

    /// <summary>The origin, for example <c>http://127.0.0.1:41234</c> (no trailing slash).</summary>
    public string Origin { get; private set; } = string.Empty;

    /// <summary>How many request body bytes arrived so far, over every request (including one still being received).</summary>
    public long BodyBytesReceived => Interlocked.Read(ref _bodyBytes);

    /// <summary>Every request received so far, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>Starts a server on <paramref name="host"/> (an IP literal in 127.0.0.0/8) and an ephemeral port.</summary>
    public static async Task<LoopbackOrigin> StartAsync(string host = "127.0.0.1")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls($"http://{host}:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var origin = new LoopbackOrigin(app);
        app.Run(origin.HandleAsync);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(10));
        origin.Origin = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return origin;
    }

    /// <summary>An absolute URI on this origin.</summary>
    public Uri Url(string pathAndQuery) => new(Origin + pathAndQuery);

    /// <summary>Answers requests to <paramref name="path"/> (exact match, query ignored) with <paramref name="handler"/>; replaces an earlier mapping.</summary>
    public LoopbackOrigin Map(string path, Func<HttpContext, RecordedRequest, Task> handler)
    {
        _routes[path] = handler;
        return this;
    }

    /// <summary>Answers <paramref name="path"/> with a JSON document.</summary>
    public LoopbackOrigin MapJson(string path, object document, int status = 200) =>
        Map(path, (context, _) => WriteJsonAsync(context, document, status));

    /// <summary>The requests received for <paramref name="path"/>.</summary>
    public IReadOnlyList<RecordedRequest> RequestsTo(string path) => [.. _requests.Where(r => r.Path == path)];

    /// <summary>Fails with a message naming the request and the secret's label unless no request ever carried any of <paramref name="secrets"/>.</summary>
    public void AssertReceivedNone(params (string Label, string Value)[] secrets)
    {
        foreach (var request in _requests)
        {
            var searchable = request.Searchable;
            foreach (var (label, value) in secrets)
            {
                Assert.False(
                    searchable.Contains(value, StringComparison.Ordinal),
                    $"{Origin} received the {label} in {request.Method} {request.Path}.");
            }
        }
    }

    /// <summary>Fails unless no request to this origin carried an <c>Authorization</c> header.</summary>
    public void AssertNoAuthorizationHeader()
    {
        foreach (var request in _requests)
        {
            Assert.True(request.Authorization is null, $"{Origin} received an Authorization header ({request.Authorization?.Split(' ')[0]} …) in {request.Method} {request.Path}.");
        }
    }

    /// <summary>Writes <paramref name="document"/> as JSON.</summary>
    public static async Task WriteJsonAsync(HttpContext context, object document, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(document));
    }

    /// <summary>Answers 401 with <paramref name="wwwAuthenticate"/> as the challenge.</summary>
    public static Task ChallengeAsync(HttpContext context, string wwwAuthenticate, int status = 401)
    {
        context.Response.StatusCode = status;
        context.Response.Headers.WWWAuthenticate = wwwAuthenticate;
        return Task.CompletedTask;
    }

    /// <summary>Answers <paramref name="path"/> with a redirect (<paramref name="status"/>) to <paramref name="location"/>.</summary>
    public LoopbackOrigin MapRedirect(string path, Uri location, int status = 307) =>
        Map(path, (context, _) => RedirectAsync(context, location, status));

    /// <summary>
    /// Answers <paramref name="path"/> with <paramref name="status"/> and headers at once, then a body of at most
    /// <paramref name="bytes"/> spaces, one every <paramref name="interval"/>; stops when the client goes away.
    /// </summary>
    public LoopbackOrigin MapTrickle(string path, TimeSpan interval, int bytes = 100, int status = 200) =>
        Map(path, async (context, _) =>
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            var aborted = context.RequestAborted;
            try
            {
                await context.Response.StartAsync(aborted);
                await context.Response.Body.FlushAsync(aborted);
                for (var i = 0; i < bytes && !aborted.IsCancellationRequested; i++)
                {
                    await Task.Delay(interval, aborted);
                    await context.Response.Body.WriteAsync(" "u8.ToArray(), aborted);
                    await context.Response.Body.FlushAsync(aborted);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                // The client gave up: what this route is for.
            }
        });

    /// <summary>Answers <paramref name="path"/> only after <paramref name="delay"/> (nothing is sent before); stops when the client goes away.</summary>
    public LoopbackOrigin MapSlowHeaders(string path, TimeSpan delay, object? document = null) =>
        Map(path, async (context, _) =>
        {
            try
            {
                await Task.Delay(delay, context.RequestAborted);
                await WriteJsonAsync(context, document ?? new { }, 200);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                // The client gave up.
            }
        });

    /// <summary>Answers with a redirect (<paramref name="status"/>, 307 by default) to <paramref name="location"/>.</summary>
    public static Task RedirectAsync(HttpContext context, Uri location, int status = 307)
    {
        context.Response.StatusCode = status;
        context.Response.Headers.Location = location.AbsoluteUri;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        // Copied chunk by chunk so that what arrived is recorded even when the client aborts the body half-way; not
        // on RequestAborted, which may already be set when the data that did arrive is still to be read (Kestrel ends
        // the read itself when the connection closes, or the client sends too slowly).
        using var received = new MemoryStream();
        var complete = true;
        try
        {
            var chunk = new byte[4096];
            int read;
            while ((read = await context.Request.Body.ReadAsync(chunk)) > 0)
            {
                received.Write(chunk, 0, read);
                Interlocked.Add(ref _bodyBytes, read);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            complete = false;
        }

        var headers = context.Request.Headers.ToDictionary(static h => h.Key, static h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var body = Encoding.UTF8.GetString(received.ToArray());
        var recorded = new RecordedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString, headers, body, complete);
        _requests.Enqueue(recorded);
        if (!complete)
        {
            return;
        }
        if (_routes.TryGetValue(context.Request.Path.Value ?? string.Empty, out var handler))
        {
            await handler(context, recorded);
            return;
        }

        context.Response.StatusCode = (int)HttpStatusCode.NotFound;
    }
}
