using System.Net;
using System.Text;

namespace LockFree.Auth.Testing;

/// <summary>One request the fake received, with its body read eagerly.</summary>
public sealed record FakeRequest(HttpMethod Method, Uri Uri, string? Authorization, string Body, IReadOnlyDictionary<string, string> Form)
{
    /// <summary>The form field <paramref name="name"/> or null.</summary>
    public string? this[string name] => Form.TryGetValue(name, out var value) ? value : null;

    /// <summary>The URI without query, as routes are keyed.</summary>
    public string Route => Uri.GetLeftPart(UriPartial.Path);
}

/// <summary>
/// An in-memory <see cref="HttpMessageHandler"/>: routes by method and absolute URI (query ignored), counts requests,
/// holds requests behind gates (no sleeps) and lets tests override responses. Thread-safe.
/// </summary>
public sealed class FakeHttpHandler : HttpMessageHandler
{
    private readonly object _sync = new();
    private readonly Dictionary<string, Func<FakeRequest, CancellationToken, Task<HttpResponseMessage>>> _routes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<FakeRequest, HttpResponseMessage?>> _overrides = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeGate> _gates = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly List<FakeRequest> _requests = [];

    /// <summary>Every request received so far, in arrival order.</summary>
    public IReadOnlyList<FakeRequest> Requests { get { lock (_sync) { return [.. _requests]; } } }

    /// <summary>How many requests were received.</summary>
    public int TotalRequests { get { lock (_sync) { return _requests.Count; } } }

    /// <summary>Creates an <see cref="HttpClient"/> over this handler (the handler is not disposed with it).</summary>
    public HttpClient CreateClient() => new(this, disposeHandler: false);

    /// <summary>Serves <paramref name="method"/> <paramref name="url"/> with <paramref name="responder"/>.</summary>
    public void On(HttpMethod method, string url, Func<FakeRequest, CancellationToken, Task<HttpResponseMessage>> responder)
    {
        lock (_sync) { _routes[Key(method, url)] = responder; }
    }

    /// <summary>Serves <paramref name="method"/> <paramref name="url"/> with a synchronous <paramref name="responder"/>.</summary>
    public void On(HttpMethod method, string url, Func<FakeRequest, HttpResponseMessage> responder) =>
        On(method, url, (request, _) => Task.FromResult(responder(request)));

    /// <summary>
    /// Overrides the response of <paramref name="url"/> (any method) while <paramref name="responder"/> returns non-null;
    /// a null return falls through to the route. Replaces an earlier override; <see cref="ClearOverride"/> removes it.
    /// </summary>
    public void Override(string url, Func<FakeRequest, HttpResponseMessage?> responder)
    {
        lock (_sync) { _overrides[Normalize(url)] = responder; }
    }

    /// <summary>Overrides <paramref name="url"/> with a fixed response factory for every request.</summary>
    public void Override(string url, Func<HttpResponseMessage> response) => Override(url, _ => response());

    /// <summary>Removes the override of <paramref name="url"/>.</summary>
    public void ClearOverride(string url)
    {
        lock (_sync) { _overrides.Remove(Normalize(url)); }
    }

    /// <summary>Holds every later request to <paramref name="url"/> (any method) until the returned gate is released.</summary>
    public FakeGate Hold(string url)
    {
        var gate = new FakeGate();
        lock (_sync) { _gates[Normalize(url)] = gate; }
        return gate;
    }

    /// <summary>Stops holding requests to <paramref name="url"/> (requests already held stay on their gate).</summary>
    public void Unhold(string url)
    {
        lock (_sync) { _gates.Remove(Normalize(url)); }
    }

    /// <summary>How many requests to <paramref name="url"/> (any method, query ignored) were received.</summary>
    public int CountOf(string url)
    {
        lock (_sync) { return _counts.GetValueOrDefault(Normalize(url)); }
    }

    /// <summary>The requests to <paramref name="url"/>.</summary>
    public IReadOnlyList<FakeRequest> RequestsTo(string url)
    {
        var route = Normalize(url);
        lock (_sync) { return _requests.Where(r => r.Route == route).ToList(); }
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken);
        var form = ParseForm(request.Content?.Headers.ContentType?.MediaType == "application/x-www-form-urlencoded" ? body : string.Empty);
        var fake = new FakeRequest(request.Method, request.RequestUri!, request.Headers.Authorization?.ToString(), body, form);
        var route = fake.Route;
        FakeGate? gate;
        Func<FakeRequest, HttpResponseMessage?>? overrideResponder;
        Func<FakeRequest, CancellationToken, Task<HttpResponseMessage>>? responder;
        lock (_sync)
        {
            _requests.Add(fake);
            _counts[route] = _counts.GetValueOrDefault(route) + 1;
            _gates.TryGetValue(route, out gate);
            _overrides.TryGetValue(route, out overrideResponder);
            _routes.TryGetValue(Key(request.Method, route), out responder);
        }

        if (gate is not null)
        {
            await gate.EnterAsync(cancellationToken);
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (overrideResponder?.Invoke(fake) is { } overridden)
        {
            overridden.RequestMessage = request;
            return overridden;
        }

        var response = responder is null ? new HttpResponseMessage(HttpStatusCode.NotFound) : await responder(fake, cancellationToken);
        response.RequestMessage = request;
        return response;
    }

    private static Dictionary<string, string> ParseForm(string body)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in body.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var at = pair.IndexOf('=');
            var name = Decode(at < 0 ? pair : pair[..at]);
            form[name] = at < 0 ? string.Empty : Decode(pair[(at + 1)..]);
        }

        return form;

        static string Decode(string s) => Uri.UnescapeDataString(s.Replace('+', ' '));
    }

    private static string Key(HttpMethod method, string url) => method.Method + " " + Normalize(url);

    private static string Normalize(string url) => new Uri(url).GetLeftPart(UriPartial.Path);
}

/// <summary>
/// Holds requests until released: <see cref="WaitForArrivalsAsync"/> tells a test when n requests are being held,
/// <see cref="Release"/> lets them (and every later one) through. A held request honours its cancellation token.
/// </summary>
public sealed class FakeGate
{
    private readonly object _sync = new();
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];
    private int _arrived;

    /// <summary>How many requests arrived at the gate.</summary>
    public int Arrived { get { lock (_sync) { return _arrived; } } }

    /// <summary>Whether the gate was released.</summary>
    public bool IsReleased => _released.Task.IsCompleted;

    /// <summary>Completes when at least <paramref name="count"/> requests arrived.</summary>
    public Task WaitForArrivalsAsync(int count = 1)
    {
        lock (_sync)
        {
            if (_arrived >= count)
            {
                return Task.CompletedTask;
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, signal));
            return signal.Task;
        }
    }

    /// <summary>Lets every held and later request through.</summary>
    public void Release() => _released.TrySetResult();

    internal async Task EnterAsync(CancellationToken cancellationToken)
    {
        List<TaskCompletionSource> ready = [];
        lock (_sync)
        {
            _arrived++;
            _waiters.RemoveAll(w =>
            {
                if (w.Count > _arrived) { return false; }
                ready.Add(w.Signal);
                return true;
            });
        }

        foreach (var signal in ready)
        {
            signal.TrySetResult();
        }

        await _released.Task.WaitAsync(cancellationToken);
    }
}

/// <summary>Response helpers for fakes.</summary>
public static class FakeResponses
{
    /// <summary>A JSON response.</summary>
    public static HttpResponseMessage Json(string json, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    /// <summary>An RFC 6749 §5.2 error response.</summary>
    public static HttpResponseMessage OAuthError(string error, string? description = null, HttpStatusCode status = HttpStatusCode.BadRequest, string? errorUri = null)
    {
        var fields = new Dictionary<string, string> { ["error"] = error };
        if (description is not null) { fields["error_description"] = description; }
        if (errorUri is not null) { fields["error_uri"] = errorUri; }
        return Json(System.Text.Json.JsonSerializer.Serialize(fields), status);
    }

    /// <summary>A response with arbitrary bytes.</summary>
    public static HttpResponseMessage Raw(byte[] body, HttpStatusCode status = HttpStatusCode.OK, string mediaType = "application/json")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(mediaType);
        return new HttpResponseMessage(status) { Content = content };
    }

    /// <summary>A text response (for example an HTML page).</summary>
    public static HttpResponseMessage Text(string text, HttpStatusCode status = HttpStatusCode.OK, string mediaType = "text/html") =>
        new(status) { Content = new StringContent(text, Encoding.UTF8, mediaType) };

    /// <summary>A status without body.</summary>
    public static HttpResponseMessage Status(HttpStatusCode status) => new(status);
}
