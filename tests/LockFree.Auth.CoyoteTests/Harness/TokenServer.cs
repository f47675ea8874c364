using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Harness;

/// <summary>
/// The fake token endpoint of the scenarios. Each acquisition is one <see cref="Request"/> whose response is a plain
/// pending task; the response is delivered later by a separate controlled "server" task
/// (<see cref="Respond"/>/<see cref="RespondAll"/> from a <c>Task.Run</c>, or automatically), so Coyote chooses when
/// the HTTP exchange "returns" relative to every caller, invalidation and timer.
/// </summary>
internal sealed class TokenServer
{
    private readonly object _gate = new();
    private readonly List<Request> _requests = [];
    private readonly List<Task> _responders = [];
    private readonly ControlledClock _clock;

    public TokenServer(ControlledClock clock, TimeSpan? lifetime = null)
    {
        _clock = clock;
        Lifetime = lifetime;
    }

    /// <summary>Lifetime of the tokens issued (<c>expires_in</c>); <see langword="null"/>: none.</summary>
    public TimeSpan? Lifetime { get; set; }

    /// <summary>When true, every request gets its own server task that answers it (success) at a time Coyote chooses.</summary>
    public bool AutoRespond { get; set; } = true;

    /// <summary>Requests whose number is in this set are answered with a failure instead of a token.</summary>
    public Func<int, bool> ShouldFail { get; set; } = static _ => false;

    /// <summary>Runs synchronously inside the acquisition, before it returns its pending task (re-entrancy scenarios).</summary>
    public Action<Request>? OnRequest { get; set; }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _requests.Count;
            }
        }
    }

    public IReadOnlyList<Request> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>The request that issued <paramref name="token"/>, or null if this server never issued it.</summary>
    public Request? IssuerOf(TokenContainer token) => Requests.SingleOrDefault(r => ReferenceEquals(r.Issued, token));

    /// <summary>The acquisition delegate handed to the coordinator.</summary>
    public Task<TokenContainer> AcquireAsync(AcquisitionContext<TokenContainer> context, CancellationToken cancellationToken)
    {
        Request request;
        lock (_gate)
        {
            request = new Request(this, _requests.Count + 1, context, cancellationToken);
            _requests.Add(request);
        }

        cancellationToken.Register(static r => ((Request)r!).Cancel(), request);
        OnRequest?.Invoke(request);
        if (AutoRespond)
        {
            var responder = Task.Run(request.Respond);
            lock (_gate)
            {
                _responders.Add(responder); // owned by the scenario: DrainAsync awaits it
            }
        }

        return request.Response;
    }

    /// <summary>
    /// Ends everything this server started, so nothing outlives the scenario's iteration: awaits every responder task,
    /// then asserts that no request is left pending (each was answered, or cancelled by the coordinator's Dispose; a
    /// server that does not answer by itself must have been answered by the scenario). Every scenario calls it last
    /// (through <see cref="World.DisposeAsync"/>).
    /// </summary>
    public async Task DrainAsync()
    {
        Task[] responders;
        lock (_gate)
        {
            responders = [.. _responders];
        }

        await Task.WhenAll(responders);
        var pending = Requests.Where(r => !r.Response.IsCompleted).Select(r => r.Number).ToArray();
        Specification.Assert(pending.Length == 0, $"Token request(s) {string.Join(", ", pending)} still pending when the scenario ended: work escaped the iteration.");
    }

    /// <summary>Answers every request not answered yet (from the calling task).</summary>
    public void RespondAll()
    {
        foreach (var r in Requests)
        {
            r.Respond();
        }
    }

    internal TokenContainer NewToken(int number) => new()
    {
        AccessToken = $"access-{number}",
        RefreshToken = $"refresh-{number}",
        ObtainedAt = _clock.GetUtcNow(),
        ExpiresIn = Lifetime,
    };

    internal sealed class Request(TokenServer server, int number, AcquisitionContext<TokenContainer> context, CancellationToken token)
    {
        // Not RunContinuationsAsynchronously: under Coyote that option produces false "deadlock" reports (see spec/coyote.md).
        private readonly TaskCompletionSource<TokenContainer> _tcs = new();
        private TokenContainer? _issued;

        public int Number { get; } = number;
        public AcquisitionContext<TokenContainer> Context { get; } = context;
        public CancellationToken Token { get; } = token;
        public Task<TokenContainer> Response => _tcs.Task;
        public TokenContainer? Issued => Volatile.Read(ref _issued);
        public bool WasCancelled { get; private set; }

        public void Respond()
        {
            if (server.ShouldFail(Number))
            {
                _tcs.TrySetException(new TokenEndpointException(Number));
                return;
            }

            var token = server.NewToken(Number);
            if (Interlocked.CompareExchange(ref _issued, token, null) is null && !_tcs.TrySetResult(token))
            {
                Volatile.Write(ref _issued, null); // cancelled first: never issued
            }
        }

        public void Cancel()
        {
            if (_tcs.TrySetCanceled(Token))
            {
                WasCancelled = true;
            }
        }
    }
}

internal sealed class TokenEndpointException(int request) : Exception($"token endpoint failed request {request}")
{
    public int Request { get; } = request;
}
