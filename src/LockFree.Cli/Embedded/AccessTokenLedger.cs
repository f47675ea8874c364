using System.Collections.Concurrent;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The access tokens of the embedded authorization server, shared with the protected resource: opaque random strings,
/// each with its expiry and revocation, the time of every issue and revocation, and why each token was issued.
/// </summary>
/// <remarks>Concurrency: the table is a concurrent dictionary, revocation a TryUpdate, every counter an Interlocked field.</remarks>
internal sealed class AccessTokenLedger(TimeSpan tokenLifetime, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, IssuedToken> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<long> _revocationTimestamps = new();
    private readonly ConcurrentQueue<long> _issueTimestamps = new();
    private string? _latestAccessToken;
    private long _initialIssues;
    private long _aheadIssues;
    private long _lapsedIssues;
    private long _afterRevocationIssues;
    private long _redundantIssues;

    /// <summary>Lifetime of every access token (<c>expires_in</c>).</summary>
    public TimeSpan TokenLifetime => tokenLifetime;

    /// <summary>When access tokens were issued (<see cref="TimeProvider.GetTimestamp"/> values).</summary>
    public IReadOnlyList<long> IssueTimestamps => [.. _issueTimestamps];

    /// <summary>When tokens were revoked (<see cref="TimeProvider.GetTimestamp"/> values).</summary>
    public IReadOnlyList<long> RevocationTimestamps => [.. _revocationTimestamps];

    /// <summary>How many tokens were revoked.</summary>
    public long Revocations => _revocationTimestamps.Count;

    /// <summary>Why each access token was issued.</summary>
    public IssueReasons IssueReasons => new(
        Interlocked.Read(ref _initialIssues), Interlocked.Read(ref _aheadIssues), Interlocked.Read(ref _lapsedIssues),
        Interlocked.Read(ref _afterRevocationIssues), Interlocked.Read(ref _redundantIssues));

    /// <summary>Issues a new access token; it becomes the current one (the one <see cref="RevokeCurrent"/> revokes).</summary>
    public string Issue()
    {
        var token = TokenText.Random("at_");
        var now = time.GetUtcNow();
        Classify(now);
        _tokens[token] = new IssuedToken(now, now + tokenLifetime, Revoked: false);
        Volatile.Write(ref _latestAccessToken, token);
        _issueTimestamps.Enqueue(time.GetTimestamp());
        return token;
    }

    /// <summary>Why <paramref name="accessToken"/> is refused (unknown, revoked, expired), or <see langword="null"/> when it is active.</summary>
    public RejectionKind? Check(string accessToken)
    {
        if (!_tokens.TryGetValue(accessToken, out var issued))
        {
            return RejectionKind.Unknown;
        }

        if (issued.Revoked)
        {
            return RejectionKind.Revoked;
        }

        return time.GetUtcNow() >= issued.ExpiresAt ? RejectionKind.Expired : null;
    }

    /// <summary>Whether <paramref name="accessToken"/> was issued here and is neither revoked nor expired.</summary>
    public bool IsActive(string accessToken) => Check(accessToken) is null;

    /// <summary>Revokes the most recently issued access token; returns whether there was one to revoke.</summary>
    public bool RevokeCurrent()
    {
        var latest = Volatile.Read(ref _latestAccessToken);
        if (latest is null || !_tokens.TryGetValue(latest, out var issued) || issued.Revoked)
        {
            return false;
        }

        if (_tokens.TryUpdate(latest, issued with { Revoked = true }, issued))
        {
            _revocationTimestamps.Enqueue(time.GetTimestamp());
            return true;
        }

        return false;
    }

    // Why this token was needed: the first one, a replacement of a revoked one, a refresh while the previous token
    // was still usable (refresh-ahead: nobody waited), or a replacement after the previous one lapsed.
    private void Classify(DateTimeOffset now)
    {
        var previous = Volatile.Read(ref _latestAccessToken);
        if (previous is null || !_tokens.TryGetValue(previous, out var issued))
        {
            Interlocked.Increment(ref _initialIssues);
        }
        else if (issued.Revoked)
        {
            Interlocked.Increment(ref _afterRevocationIssues);
        }
        else if (now - issued.IssuedAt < EarliestRefresh(tokenLifetime))
        {
            Interlocked.Increment(ref _redundantIssues);
        }
        else if (now - issued.IssuedAt < Storm.IdealExchanges.UsableFor(tokenLifetime))
        {
            Interlocked.Increment(ref _aheadIssues);
        }
        else
        {
            Interlocked.Increment(ref _lapsedIssues);
        }
    }

    // The refresh interval less a tolerance for the exchange's own round trip (the client dates its token from
    // before the request, the server from when it answers).
    private static TimeSpan EarliestRefresh(TimeSpan lifetime)
    {
        var interval = Storm.IdealExchanges.RefreshInterval(lifetime);
        var tolerance = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(250).Ticks, interval.Ticks / 4));
        return interval - tolerance;
    }
}
