using LockFree.Auth.Diagnostics;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LockFree.Auth.OAuth;

/// <summary>
/// The authorization step of a native application (RFC 8252): opens the authorization URL in the system browser and
/// receives the redirect on a loopback listener. Use <see cref="AuthorizeAsync"/> as
/// <see cref="ClientOAuthOptions.AuthorizationCallbackHandler"/>.
/// </summary>
/// <remarks>
/// <para>
/// The listener follows <see cref="ClientOAuthOptions.RedirectUri"/>, which must be an <c>http</c> URI on a loopback
/// IP literal (<c>127.0.0.1</c> or <c>[::1]</c>; <c>localhost</c> is refused, RFC 8252 §8.3). Without a port
/// (<c>http://127.0.0.1/callback</c>) every authorization listens on an ephemeral port the operating system picks, and
/// the authorization and token requests name <c>http://127.0.0.1:{port}/callback</c> (RFC 8252 §7.3: the
/// authorization server must accept any port for a loopback redirect URI, so register the URI without a port — with
/// pre-registration, in a client ID metadata document or through dynamic registration). With a port
/// (<c>http://127.0.0.1:8765/callback</c>) it listens on exactly that port, for servers that compare redirect URIs as
/// exact strings; if the port is in use the authorization fails with <see cref="OAuthFailureReason.UserAgentUnavailable"/>.
/// </para>
/// <para>
/// The listener is a minimal HTTP/1.1 server on a <see cref="TcpListener"/> (GET only, bounded request heads, one
/// request per connection, <c>Connection: close</c>): no ASP.NET Core dependency, an ephemeral port straight from the
/// operating system, and no URL reservation (<c>HttpListener</c> on Windows needs one for <c>127.0.0.1</c>). Every
/// request is checked for the exact <c>Host</c>, the path and then the <c>state</c> before anything else: a redirect
/// with another <c>state</c> (stale or forged) gets an error page and the listener keeps waiting for the real one.
/// With the right <c>state</c>, an RFC 9207 <c>iss</c> naming another issuer, an error response (<c>error</c>,
/// <c>error_description</c>, <c>error_uri</c>) or a code ends the authorization: the browser gets a small page (never the
/// code or a token) and <see cref="ClientOAuthProvider"/> turns the result into a token or a typed
/// <see cref="OAuthException"/> (<see cref="OAuthFailureReason.ErrorResponse"/>, <see cref="OAuthFailureReason.IssuerMismatch"/>).
/// No redirect within <see cref="SystemBrowserAuthorizationOptions.Timeout"/> (the user closed the tab, say) fails with
/// <see cref="OAuthFailureReason.AuthorizationTimedOut"/>. The listener is closed before the method returns, whatever
/// the outcome, including cancellation. Logs never contain the code, the state or the redirect's query.
/// </para>
/// <para>
/// Concurrency: safe to call from any thread. One instance opens at most one listener at a time: an authorization that
/// starts while another is in progress waits (without blocking a thread) until that one ended and closed its listener.
/// Give each <see cref="ClientOAuthProvider"/> its own instance, or share one to serialize several providers'
/// prompts. The provider already calls its callback once per authorization however many requests wait for it.
/// </para>
/// </remarks>
public sealed class SystemBrowserAuthorization
{
    private const int MaxRequestHeadBytes = 16 * 1024;

    private readonly Func<Uri, CancellationToken, Task> _launcher;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _requestTimeout;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    // The end of the latest authorization started on this instance: completes once it closed its listener (and once
    // everything before it did). Replaced only with Interlocked.Exchange in AuthorizeAsync; each authorization awaits
    // the task it replaced, so listeners open strictly one after another.
    private Task _tail = Task.CompletedTask;

    // Listeners open now and the most ever open at once (tests prove the second never exceeds 1). Interlocked only.
    private int _openListeners;
    private int _maxOpenListeners;

    /// <summary>Creates the handler.</summary>
    /// <param name="options">The launcher and timeouts; defaults when omitted (system browser, 5 minutes).</param>
    /// <param name="loggerFactory">Logs without secrets; none when omitted.</param>
    /// <param name="timeProvider">The clock of the timeouts; <see cref="TimeProvider.System"/> when omitted.</param>
    /// <exception cref="ArgumentException">A timeout is not positive.</exception>
    public SystemBrowserAuthorization(SystemBrowserAuthorizationOptions? options = null, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        options ??= new SystemBrowserAuthorizationOptions();
        if (options.Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("SystemBrowserAuthorizationOptions.Timeout must be positive.", nameof(options));
        }

        if (options.RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("SystemBrowserAuthorizationOptions.RequestTimeout must be positive.", nameof(options));
        }

        _launcher = options.BrowserLauncher ?? OpenSystemBrowserAsync;
        _timeout = options.Timeout;
        _requestTimeout = options.RequestTimeout;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SystemBrowserAuthorization>();
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Listeners open now (0 or 1).</summary>
    internal int OpenListeners => Volatile.Read(ref _openListeners);

    /// <summary>The most listeners this instance ever had open at once.</summary>
    internal int MaxOpenListeners => Volatile.Read(ref _maxOpenListeners);

    /// <summary>
    /// Opens the loopback listener, shows <see cref="AuthorizationCallbackContext.AuthorizationUri"/> in the browser and
    /// returns the parameters of the redirect that carries this authorization's <c>state</c>.
    /// </summary>
    /// <param name="context">The authorization request, from <see cref="ClientOAuthProvider"/>.</param>
    /// <param name="cancellationToken">Ends the wait and closes the listener.</param>
    /// <returns>The redirect's parameters (a code, or an error the provider turns into a typed exception); never <see langword="null"/>.</returns>
    /// <exception cref="OAuthException">
    /// <see cref="OAuthFailureReason.InvalidInput"/>: the redirect URI is not a loopback IP literal;
    /// <see cref="OAuthFailureReason.UserAgentUnavailable"/>: the listener or the browser could not be started;
    /// <see cref="OAuthFailureReason.AuthorizationTimedOut"/>: no redirect in time.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<AuthorizationResult?> AuthorizeAsync(AuthorizationCallbackContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (address, port, path) = LoopbackRedirect.ForListener(context.RedirectUri);
        var state = context.State ?? StateOf(context.AuthorizationUri)
            ?? throw new OAuthException("The authorization request carries no 'state', so its redirect cannot be recognized.", OAuthFailureReason.InvalidInput);

        var turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var previous = Interlocked.Exchange(ref _tail, turn.Task);
        try
        {
            if (!previous.IsCompleted)
            {
                Log.SystemBrowser.WaitingForPrevious(_logger);
#pragma warning disable VSTHRD003 // the previous authorization's end: a TaskCompletionSource task, no work to deadlock on.
                await previous.WaitAsync(cancellationToken).ConfigureAwait(false);
#pragma warning restore VSTHRD003
            }

            return await AuthorizeOnceAsync(context, address, port, path, state, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // The next authorization may open its listener once ours is closed and the previous one's is too (we may
            // have stopped waiting for it when cancelled).
            if (previous.IsCompleted)
            {
                turn.TrySetResult();
            }
            else
            {
                _ = ReleaseAfterAsync(previous, turn);
            }
        }
    }

    /// <summary>
    /// The default launcher: asks the operating system to open <paramref name="uri"/> in the default browser
    /// (<see cref="Process"/> with <see cref="ProcessStartInfo.UseShellExecute"/>: <c>xdg-open</c> on Linux, <c>open</c>
    /// on macOS, the shell's <c>start</c> on Windows). Completes once the request was handed over.
    /// </summary>
    /// <param name="uri">An absolute http or https URL (anything else is refused: it is never run as a command).</param>
    /// <param name="cancellationToken">Checked before opening.</param>
    /// <returns>A completed task.</returns>
    /// <exception cref="ArgumentException"><paramref name="uri"/> is not an absolute http(s) URL.</exception>
    /// <exception cref="System.ComponentModel.Win32Exception">No URL opener is available (for example no <c>xdg-open</c>).</exception>
    public static Task OpenSystemBrowserAsync(Uri uri, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw new ArgumentException("Only absolute http(s) URLs are opened in the browser.", nameof(uri));
        }

        cancellationToken.ThrowIfCancellationRequested();
        using var process = Process.Start(new ProcessStartInfo(uri.AbsoluteUri) { UseShellExecute = true });
        return Task.CompletedTask;
    }

    /// <summary>
    /// A launcher for machines without a browser (or a CLI's <c>--no-browser</c>): writes a line asking the user to
    /// open the URL, then the URL alone on the next line, to <paramref name="writer"/>.
    /// </summary>
    /// <param name="writer">Where to write, for example <see cref="Console.Error"/>. Used by one authorization at a time.</param>
    /// <returns>A launcher for <see cref="SystemBrowserAuthorizationOptions.BrowserLauncher"/>.</returns>
    public static Func<Uri, CancellationToken, Task> PrintUrl(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        return async (uri, cancellationToken) =>
        {
            ArgumentNullException.ThrowIfNull(uri);
            await writer.WriteLineAsync("To sign in, open this URL in a browser on this machine:").ConfigureAwait(false);
            await writer.WriteLineAsync(uri.AbsoluteUri).ConfigureAwait(false);
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        };
    }

    private async Task<AuthorizationResult?> AuthorizeOnceAsync(AuthorizationCallbackContext context, IPAddress address, int port, string path, string state, CancellationToken cancellationToken)
    {
        var listener = new TcpListener(address, port);
        if (OperatingSystem.IsWindows())
        {
            listener.ExclusiveAddressUse = true; // no other process may bind the same port and read the redirect
        }

        try
        {
            listener.Start(16);
        }
        catch (SocketException ex)
        {
            listener.Dispose();
            throw new OAuthException(
                $"The loopback redirect listener could not be started on {context.RedirectUri.Host}:{port.ToString(CultureInfo.InvariantCulture)} ({ex.SocketErrorCode}).",
                OAuthFailureReason.UserAgentUnavailable,
                innerException: ex);
        }

        var actualPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        OnListenerOpened();
        var redirect = port == 0 ? LoopbackRedirect.WithPort(context.RedirectUri, actualPort) : context.RedirectUri;
        var authorizationUri = port == 0 ? LoopbackRedirect.ReplaceRedirectUri(context.AuthorizationUri, redirect) : context.AuthorizationUri;
        var endpoint = new Uri(context.AuthorizationUri.GetLeftPart(UriPartial.Path));
        var session = new ListenerSession(this, listener, redirect, path, state, context.Issuer, context.IssuerRequired);
        using var timeout = new CancellationTokenSource(_timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            session.Start();
            Log.SystemBrowser.Listening(_logger, redirect);
            Log.SystemBrowser.OpeningBrowser(_logger, authorizationUri);
            try
            {
                await _launcher(authorizationUri, linked.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OAuthException && !linked.IsCancellationRequested)
            {
                throw new OAuthException(
                    $"The browser could not be opened ({ex.GetType().Name}); configure SystemBrowserAuthorizationOptions.BrowserLauncher, for example with SystemBrowserAuthorization.PrintUrl.",
                    OAuthFailureReason.UserAgentUnavailable,
                    endpoint,
                    innerException: ex);
            }

            var result = await session.Completion.WaitAsync(linked.Token).ConfigureAwait(false);
            return new AuthorizationResult
            {
                Code = result.Code,
                State = result.State,
                Iss = result.Iss,
                Error = result.Error,
                ErrorDescription = result.ErrorDescription,
                ErrorUri = result.ErrorUri,
                RedirectUri = redirect,
            };
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            Log.SystemBrowser.TimedOut(_logger, _timeout);
            throw new OAuthException(
                $"The authorization was not completed in the browser within {_timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s (the tab may have been closed); the loopback listener was closed.",
                OAuthFailureReason.AuthorizationTimedOut,
                endpoint,
                innerException: ex);
        }
        finally
        {
            await session.StopAsync().ConfigureAwait(false);
            Interlocked.Decrement(ref _openListeners);
            Log.SystemBrowser.Closed(_logger, actualPort);
        }
    }

    private void OnListenerOpened()
    {
        var open = Interlocked.Increment(ref _openListeners);
        var max = Volatile.Read(ref _maxOpenListeners);
        while (open > max)
        {
            var seen = Interlocked.CompareExchange(ref _maxOpenListeners, open, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    private static async Task ReleaseAfterAsync(Task previous, TaskCompletionSource turn)
    {
#pragma warning disable VSTHRD003 // a TaskCompletionSource task (see AuthorizeAsync).
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
#pragma warning restore VSTHRD003
        turn.TrySetResult();
    }

    private static string? StateOf(Uri authorizationUri)
    {
        foreach (var (name, value) in OAuthQuery.Parse(authorizationUri.Query))
        {
            if (name == "state")
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>
    /// One authorization's listener: accepts connections until stopped, answers each request with a page, and
    /// completes <see cref="Completion"/> with the first redirect that carries the expected <c>state</c>.
    /// </summary>
    /// <remarks>
    /// Concurrency: connections are served concurrently (browsers open speculative connections that never send
    /// anything). <see cref="Completion"/> is completed with TrySetResult, so the first matching redirect wins; the
    /// connection tasks are collected in a concurrent bag and awaited by <see cref="StopAsync"/>.
    /// </remarks>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "StopAsync disposes the CTS and the listener; the owner always calls it in a finally block.")]
    private sealed class ListenerSession
    {
        private readonly SystemBrowserAuthorization _owner;
        private readonly TcpListener _listener;
        private readonly Uri _redirect;
        private readonly string _path;
        private readonly string _state;
        private readonly string? _issuer;
        private readonly bool _issuerRequired;
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource<AuthorizationResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ConcurrentBag<Task> _connections = [];
        private Task _acceptLoop = Task.CompletedTask;

        internal ListenerSession(SystemBrowserAuthorization owner, TcpListener listener, Uri redirect, string path, string state, string? issuer, bool issuerRequired)
        {
            _owner = owner;
            _listener = listener;
            _redirect = redirect;
            _path = path;
            _state = state;
            _issuer = issuer;
            _issuerRequired = issuerRequired;
        }

#pragma warning disable VSTHRD003 // a TaskCompletionSource task completed by this session's connections.
        internal Task<AuthorizationResult> Completion => _completion.Task;
#pragma warning restore VSTHRD003

        internal void Start() => _acceptLoop = AcceptLoopAsync();

        internal async Task StopAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            _listener.Stop();
            _listener.Dispose();
#pragma warning disable VSTHRD003 // this session's own accept loop and connection tasks.
            await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await Task.WhenAll(_connections).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
#pragma warning restore VSTHRD003
            _stop.Dispose();
        }

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
                {
                    return; // stopped (or the listener failed: the timeout still ends the authorization)
                }

                _connections.Add(ServeAsync(client));
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            using (client)
            {
                using var timeout = new CancellationTokenSource(_owner._requestTimeout, _owner._time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, timeout.Token);
                try
                {
                    var stream = client.GetStream();
                    var (head, complete) = await ReadHeadAsync(stream, linked.Token).ConfigureAwait(false);
                    if (!complete)
                    {
                        return; // the client closed the connection without a request
                    }

                    var (page, result) = head is null ? (AuthorizationResponsePages.BadRequest(), null) : Decide(head.Value);
                    try
                    {
                        await WriteAsync(stream, page, linked.Token).ConfigureAwait(false);
                        client.Client.Shutdown(SocketShutdown.Send);
                    }
                    finally
                    {
                        Log.SystemBrowser.Answered(_owner._logger, page.Status, AuthorizationResponsePages.OutcomeName(page.Outcome));
                        if (result is not null)
                        {
                            // After the page was sent (or could not be): the response is valid either way.
                            _completion.TrySetResult(result);
                        }
                    }
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
                {
                    // A silent, slow or vanished connection: nothing to answer.
                }
            }
        }

        private (AuthorizationPage Page, AuthorizationResult? Result) Decide(RequestHead head)
        {
            if (!string.Equals(head.Method, "GET", StringComparison.Ordinal))
            {
                return (AuthorizationResponsePages.MethodNotAllowed(), null);
            }

            // DNS rebinding: a page of another site whose name resolves to 127.0.0.1 sends its own Host.
            if (!string.Equals(head.Host, _redirect.Authority, StringComparison.OrdinalIgnoreCase))
            {
                return (AuthorizationResponsePages.BadRequest(), null);
            }

            var query = head.Target.IndexOf('?', StringComparison.Ordinal);
            var path = query < 0 ? head.Target : head.Target[..query];
            if (!string.Equals(path, _path, StringComparison.Ordinal))
            {
                return (AuthorizationResponsePages.NotFound(), null);
            }

            if (!Uri.TryCreate(_redirect.GetLeftPart(UriPartial.Path) + (query < 0 ? string.Empty : head.Target[query..]), UriKind.Absolute, out var received))
            {
                return (AuthorizationResponsePages.BadRequest(), null);
            }

            // state first: a response that is not ours changes nothing, and the listener keeps waiting.
            var result = AuthorizationResult.FromRedirectUri(received);
            if (!Pkce.FixedTimeEquals(result.State, _state))
            {
                Log.SystemBrowser.StateMismatch(_owner._logger);
                return (AuthorizationResponsePages.StateMismatch(), null);
            }

            if (_completion.Task.IsCompleted)
            {
                return (AuthorizationResponsePages.AlreadyCompleted(), null);
            }

            // iss next (RFC 9207): the right state from another authorization server is a mix-up; the provider fails it.
            if (_issuer is not null && (result.Iss is not null || _issuerRequired) && !string.Equals(result.Iss, _issuer, StringComparison.Ordinal))
            {
                Log.SystemBrowser.IssuerMismatch(_owner._logger);
                return (AuthorizationResponsePages.IssuerMismatch(), result);
            }

            Log.SystemBrowser.ResponseReceived(_owner._logger, !string.IsNullOrEmpty(result.Code), result.Error ?? "(none)");
            if (result.Error is { } error)
            {
                return (AuthorizationResponsePages.ErrorResponse(error, result.ErrorDescription), result);
            }

            return string.IsNullOrEmpty(result.Code)
                ? (AuthorizationResponsePages.Incomplete(), result)
                : (AuthorizationResponsePages.Success(), result);
        }

        /// <summary>Reads the request line and headers. Complete = a request arrived (head null: unreadable or too large).</summary>
        private static async Task<(RequestHead? Head, bool Complete)> ReadHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
        {
            var buffer = new byte[MaxRequestHeadBytes];
            var length = 0;
            while (length < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return (null, length > 0);
                }

                var searchFrom = Math.Max(0, length - 3);
                length += read;
                var end = buffer.AsSpan(searchFrom, length - searchFrom).IndexOf("\r\n\r\n"u8);
                if (end >= 0)
                {
                    return (RequestHead.Parse(Encoding.Latin1.GetString(buffer, 0, searchFrom + end)), true);
                }
            }

            return (null, true);
        }

        private static async Task WriteAsync(NetworkStream stream, AuthorizationPage page, CancellationToken cancellationToken)
        {
            var body = Encoding.UTF8.GetBytes(page.Html);
            var head = new StringBuilder(512)
                .Append("HTTP/1.1 ").Append(page.Status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(ReasonPhrase(page.Status)).Append("\r\n")
                .Append("Content-Type: text/html; charset=utf-8\r\n")
                .Append("Content-Length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n")
                .Append("Cache-Control: no-store\r\nPragma: no-cache\r\nConnection: close\r\n")
                .Append("X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n")
                .Append("Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'\r\n");
            if (page.Status == 405)
            {
                head.Append("Allow: GET\r\n");
            }

            head.Append("\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cancellationToken).ConfigureAwait(false);
            await stream.WriteAsync(body, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        private static string ReasonPhrase(int status) => status switch
        {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            409 => "Conflict",
            _ => "Error",
        };
    }

    /// <summary>The request line and the <c>Host</c> header of one request.</summary>
    private readonly record struct RequestHead(string Method, string Target, string? Host)
    {
        internal static RequestHead? Parse(string text)
        {
            var lines = text.Split("\r\n");
            var parts = lines[0].Split(' ');
            if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || !parts[1].StartsWith('/'))
            {
                return null;
            }

            string? host = null;
            for (var i = 1; i < lines.Length; i++)
            {
                var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && lines[i].AsSpan(0, colon).Trim().Equals("Host", StringComparison.OrdinalIgnoreCase))
                {
                    if (host is not null)
                    {
                        return null; // two Host headers
                    }

                    host = lines[i][(colon + 1)..].Trim();
                }
            }

            return new RequestHead(parts[0], parts[1], host);
        }
    }
}
