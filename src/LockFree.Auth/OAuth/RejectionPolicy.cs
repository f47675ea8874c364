using LockFree.Auth.Diagnostics;
using Microsoft.Extensions.Logging;

namespace LockFree.Auth.OAuth;

/// <summary>
/// The one place that decides what a rejection means for a <see cref="ClientOAuthProvider"/>: a token the resource
/// rejected (stale: retry with the newer one; never accepted: R1 back-off; otherwise retire the metadata and the token
/// and join one exchange), a refresh token the server refused (<c>invalid_grant</c>: authorize again), and a client the
/// token endpoint no longer knows (<c>invalid_client</c>: register again next time).
/// </summary>
/// <remarks>
/// Concurrency: the R1 count lives in the provider's one snapshot (<see cref="ProviderState"/>), changed only by CAS
/// on the provider's <see cref="AuthCell{TState}"/> (this type makes the R1 transitions, the provider the others).
/// The retirements are conditional invalidations on the coordinators, so N concurrent rejections of one token retire
/// it once and share the exchange that follows.
/// </remarks>
internal sealed class RejectionPolicy
{
    /// <summary>The longest back-off between exchanges when the resource rejects every fresh token (R1).</summary>
    internal static readonly TimeSpan MaxRejectionBackoff = TimeSpan.FromMinutes(5);

    private readonly AuthCell<ProviderState> _state;
    private readonly ClientOAuthSettings _settings;
    private readonly McpServerDiscovery _discovery;
    private readonly ClientIdentities _clients;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // Called after a rejected token was retired here (the provider's shared invalidation, issue 13); may be null.
    private readonly Action<TokenEntry>? _onRetired;

    /// <summary>Creates the policy over the provider's snapshot cell, discovery and client identities.</summary>
    internal RejectionPolicy(AuthCell<ProviderState> state, ClientOAuthSettings settings, McpServerDiscovery discovery, ClientIdentities clients, TimeProvider time, ILogger logger, Action<TokenEntry>? onRetired = null)
    {
        _onRetired = onRetired;
        _state = state;
        _settings = settings;
        _discovery = discovery;
        _clients = clients;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Null in every product path. Only the Coyote suite's seeded bug <c>ClientOAuth.FreshRejectionCountedTwice</c>
    /// (spec/coyote.md) sets it, through <see cref="ClientOAuthProvider.Rejections"/>, to an edited copy of
    /// <see cref="TryCountFreshRejection"/> that lives in the test project.
    /// </summary>
    internal Func<AuthCell<ProviderState>, TokenEntry, TimeProvider, bool>? SeededBugFreshRejectionCount { get; set; }

    /// <summary>How the n-th consecutive fresh-token rejection waits after the previous one: 0 for n = 1, then 1 s, 2 s, 4 s, … up to 5 minutes.</summary>
    internal static TimeSpan RejectionBackoff(int n) =>
        n <= 1 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(Math.Pow(2, Math.Min(n - 2, 20)), MaxRejectionBackoff.TotalSeconds));

    /// <summary>
    /// The resource answered 401 to <paramref name="rejected"/> while <paramref name="current"/> is the coordinator in
    /// use. Returns the token to retry with, or null when the 401 should be returned as is.
    /// </summary>
    internal async Task<TokenEntry?> OnTokenRejectedAsync(TokenEntry rejected, AuthCoordinator<TokenEntry> current, CancellationToken cancellationToken)
    {
        if (current.Current.Value is { } fresh && !ReferenceEquals(fresh, rejected))
        {
            // Stale 401: the token already changed; retry with the new one, no exchange.
            return fresh;
        }

        if (!rejected.WasAccepted && !(SeededBugFreshRejectionCount is { } seeded ? seeded(_state, rejected, _time) : TryCountFreshRejection(rejected)))
        {
            // R1: the resource keeps rejecting tokens it never accepted; within the back-off the 401 is returned
            // as is, with no exchange and no prompt.
            return null;
        }

        // The resource rejected a token we sent: its metadata may have changed (for example it moved to another
        // authorization server), so the exchange that follows reads it again. Conditional, and before the
        // token is retired: whoever sees the token retired also sees the metadata it came with retired, and
        // a later 401 for the same token cannot retire metadata read after it.
        if (rejected.Metadata is { } used)
        {
            _discovery.Retire(used);
        }

        // Retire the rejected token only if it is still the cached one; N concurrent 401s with the same
        // token retire it once and all join the one refresh that follows.
        if (current.Invalidate(static (value, r) => ReferenceEquals(value, r), rejected))
        {
            // The replicas' copy too, if it still holds this token (conditional in the store as well).
            _onRetired?.Invoke(rejected);
        }

        return await current.GetAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The resource accepted a token (any answer but 401): the count of fresh tokens it rejected starts over (R1).</summary>
    internal void OnTokenAccepted()
    {
        if (_state.Current.FreshRejections != 0)
        {
            // CAS (R1): only the count starts over; idempotent, so concurrent acceptances all reach the same state.
            _state.Update(static (s, _) => s.FreshRejections == 0 ? s : s with { FreshRejections = 0, LastFreshRejection = null }, 0);
        }
    }

    /// <summary>Whether the token endpoint refused a refresh token (<c>invalid_grant</c>): it is dropped and the provider authorizes again.</summary>
    internal bool IsRefreshTokenRejected(OAuthException exception, ServerMetadata metadata)
    {
        if (exception.Error != "invalid_grant")
        {
            return false;
        }

        // The refresh token is no longer valid (expired, revoked, or rotated away): drop it and authorize.
        Log.ClientOAuth.RefreshRejected(_logger, metadata.TokenEndpoint);
        return true;
    }

    /// <summary>
    /// A grant at <paramref name="metadata"/>'s token endpoint failed with <paramref name="exception"/> for
    /// <paramref name="client"/>. An <c>invalid_client</c> there retires a registered (not pre-registered) client, so
    /// the next resolution registers again; the error still surfaces (the caller rethrows it).
    /// </summary>
    internal void OnTokenEndpointError(OAuthException exception, ServerMetadata metadata, ClientRegistration client)
    {
        if (exception.Error == "invalid_client" && _settings.ClientId is null && exception.Endpoint == metadata.TokenEndpoint)
        {
            // Conditional invalidation retires the registration, so the next resolution sees it as rejected.
            _clients.Retire(metadata, client.ClientId);
        }
    }

    /// <summary>
    /// R1: counts a rejection of <paramref name="rejected"/>, a token the resource never accepted. The first such rejection
    /// may start an exchange at once; the n-th consecutive one only after 2^(n-2) seconds (at most
    /// <see cref="MaxRejectionBackoff"/>) since the previous one. Each token is counted once however many requests it
    /// failed. Returns whether this rejection may retire the token and start an exchange.
    /// </summary>
    private bool TryCountFreshRejection(TokenEntry rejected)
    {
        while (true)
        {
            var state = _state.Current;
            if (ReferenceEquals(state.LastFreshRejection, rejected))
            {
                // Already counted: concurrent 401s with this token join the exchange its first rejection started.
                return true;
            }

            var now = _time.GetUtcNow();
            if (state.FreshRejections > 0 && now < state.RetryFreshRejectionAt)
            {
                return false;
            }

            var count = state.FreshRejections + 1;
            var next = state with
            {
                FreshRejections = count,
                LastFreshRejection = rejected,
                RetryFreshRejectionAt = now + RejectionBackoff(count + 1),
            };

            // CAS against the state read above (R1: each token counted once, counts never lost): a concurrent rejection
            // of another token counts first and this one re-reads.
            if (_state.TryReplace(state, next))
            {
                if (count > 1)
                {
                    Log.ClientOAuth.FreshTokenRejected(_logger, count, RejectionBackoff(count + 1));
                }

                return true;
            }
        }
    }
}
