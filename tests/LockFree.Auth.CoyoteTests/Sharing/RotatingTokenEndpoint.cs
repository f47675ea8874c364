using LockFree.Auth.CoyoteTests.Harness;
using Microsoft.Coyote.Specifications;

namespace LockFree.Auth.CoyoteTests.Sharing;

/// <summary>
/// The token endpoint shared by the replicas: a client-credentials grant when no refresh token is presented, else a
/// refresh grant that rotates the refresh token (every response carries a new one). Every request is recorded with the
/// refresh token it presented, so a refresh token presented twice (what reuse detection would reject, revoking the
/// chain) is visible; the endpoint is lenient and answers it anyway, so a scenario can count. Each request is answered
/// by its own controlled server task, at a time Coyote chooses.
/// </summary>
internal sealed class RotatingTokenEndpoint(ControlledClock clock, TimeSpan lifetime)
{
    private readonly object _gate = new();
    private readonly List<Exchange> _exchanges = [];
    private readonly List<Task> _responders = [];
    private int _issued;

    /// <summary>Every request, in the order they reached the endpoint.</summary>
    public IReadOnlyList<Exchange> Exchanges
    {
        get
        {
            lock (_gate)
            {
                return [.. _exchanges];
            }
        }
    }

    /// <summary>Refresh tokens presented more than once, with their count.</summary>
    public IReadOnlyList<(string RefreshToken, int Times)> Reused =>
        [.. Exchanges.Where(e => e.Presented is not null).GroupBy(e => e.Presented!).Where(g => g.Count() > 1).Select(g => (g.Key, g.Count()))];

    /// <summary>The token set already in the record when a scenario starts (issued before it, number 0).</summary>
    public TokenContainer IssueSeed(DateTimeOffset obtainedAt) => NewToken(0, obtainedAt);

    /// <summary>The request of a replica's exchange: recorded now, answered later by a server task.</summary>
    public Task<TokenContainer> ExchangeAsync(string replica, TokenContainer? previous, CancellationToken cancellationToken)
    {
        Exchange exchange;
        lock (_gate)
        {
            exchange = new Exchange(_exchanges.Count + 1, replica, previous?.RefreshToken);
            _exchanges.Add(exchange);
        }

        cancellationToken.Register(static e => ((Exchange)e!).Cancel(), exchange);
        var responder = Task.Run(() => Respond(exchange));
        lock (_gate)
        {
            _responders.Add(responder);
        }

        return exchange.Response;
    }

    /// <summary>Awaits every server task and asserts that no request is left unanswered (nothing escapes the iteration).</summary>
    public async Task DrainAsync()
    {
        Task[] responders;
        lock (_gate)
        {
            responders = [.. _responders];
        }

        await Task.WhenAll(responders);
        var pending = Exchanges.Where(e => !e.Response.IsCompleted).Select(e => e.Number).ToArray();
        Specification.Assert(pending.Length == 0, $"Token request(s) {string.Join(", ", pending)} still pending when the scenario ended: work escaped the iteration.");
    }

    private void Respond(Exchange exchange)
    {
        TokenContainer token;
        lock (_gate)
        {
            token = NewToken(++_issued, clock.GetUtcNow());
        }

        exchange.Answer(token);
    }

    private TokenContainer NewToken(int number, DateTimeOffset obtainedAt) => new()
    {
        AccessToken = $"at-{number}",
        RefreshToken = $"rt-{number}",
        ObtainedAt = obtainedAt,
        ExpiresIn = lifetime,
    };

    internal sealed class Exchange(int number, string replica, string? presented)
    {
        // Not RunContinuationsAsynchronously (spec/coyote.md).
        private readonly TaskCompletionSource<TokenContainer> _tcs = new();
        private TokenContainer? _issued;

        public int Number { get; } = number;
        public string Replica { get; } = replica;

        /// <summary>The refresh token presented; null for a client-credentials grant.</summary>
        public string? Presented { get; } = presented;

        public Task<TokenContainer> Response => _tcs.Task;

        /// <summary>The token set the endpoint issued for it (the refresh token was spent even if nobody got the answer).</summary>
        public TokenContainer? Issued => Volatile.Read(ref _issued);

        public void Answer(TokenContainer token)
        {
            if (_tcs.Task.IsCompleted)
            {
                return; // cancelled before the server processed it
            }

            Volatile.Write(ref _issued, token);
            _tcs.TrySetResult(token);
        }

        public void Cancel() => _tcs.TrySetCanceled();
    }
}
