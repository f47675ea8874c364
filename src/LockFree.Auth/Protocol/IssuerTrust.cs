namespace LockFree.Auth.Protocol;

/// <summary>
/// Which authorization servers a provider's credentials may be sent to: the configured trusted issuers; when none are
/// configured and the provider holds pre-registered credentials, the first issuer the credentials are sent to (trust on
/// first use, "pinned": claimed with <see cref="Pin"/> immediately before that first request); otherwise any issuer the resource's own metadata names (each then gets its own registration,
/// and refresh tokens stay bound to their issuer). See <c>spec/security.md</c>, rules T3–T5.
/// </summary>
/// <remarks>
/// Concurrency: the configured list is immutable; the pin is one reference written at most once, from
/// <see langword="null"/> to a value, with <see cref="Interlocked.CompareExchange{T}(ref T, T, T)"/>, and read with
/// <see cref="Volatile.Read{T}(ref readonly T)"/>. Two first acquisitions racing with different issuers: the providers call
/// <see cref="Pin"/> before the first request that can carry the credentials, so the first CAS wins and the other issuer
/// is refused before anything is sent to it.
/// </remarks>
internal class IssuerTrust
{
    private readonly string[] _configured;
    private readonly bool _pinOnFirstUse;

    // null until the first use of the credentials when nothing is configured; then the normalized issuer, forever.
    private string? _pinned;

    /// <param name="trusted">The configured trusted issuers (empty: none configured).</param>
    /// <param name="optionName">The option's name, for the message of an invalid entry.</param>
    /// <param name="pinOnFirstUse">Whether, with nothing configured, the first issuer used is pinned (pre-registered credentials).</param>
    internal IssuerTrust(IEnumerable<Uri>? trusted, string optionName, bool pinOnFirstUse)
    {
        _pinOnFirstUse = pinOnFirstUse;
        var configured = new List<string>();
        foreach (var issuer in trusted ?? [])
        {
            if (issuer is null || !issuer.IsAbsoluteUri || (issuer.Scheme != Uri.UriSchemeHttps && issuer.Scheme != Uri.UriSchemeHttp))
            {
                throw new ArgumentException($"{optionName} must contain only absolute http(s) issuer URIs.", optionName);
            }

            configured.Add(Normalize(issuer));
        }

        _configured = [.. configured.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Whether a list of trusted issuers was configured (then nothing is pinned).</summary>
    internal bool IsConfigured => _configured.Length > 0;

    /// <summary>The pinned issuer (normalized), or <see langword="null"/>.</summary>
    internal string? Pinned => Volatile.Read(ref _pinned);

    /// <summary>The form issuers are compared in: lower-case scheme and host, the port, the path without a trailing slash.</summary>
    internal static string Normalize(Uri issuer) =>
        issuer.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped).ToLowerInvariant() + issuer.AbsolutePath.TrimEnd('/');

    /// <summary>Whether credentials may be sent to <paramref name="issuer"/> now.</summary>
    internal bool IsTrusted(Uri issuer)
    {
        var normalized = Normalize(issuer);
        if (_configured.Length > 0)
        {
            return Array.IndexOf(_configured, normalized) >= 0;
        }

        var pinned = Volatile.Read(ref _pinned);
        return pinned is null || string.Equals(pinned, normalized, StringComparison.Ordinal);
    }

    /// <summary>Whether <paramref name="issuer"/> is explicitly trusted: configured, or already pinned (not merely "nothing pinned yet").</summary>
    internal bool IsEstablished(Uri issuer)
    {
        var normalized = Normalize(issuer);
        return _configured.Length > 0
            ? Array.IndexOf(_configured, normalized) >= 0
            : string.Equals(Volatile.Read(ref _pinned), normalized, StringComparison.Ordinal);
    }

    /// <summary>Throws <see cref="OAuthFailureReason.UntrustedAuthorizationServer"/> unless <paramref name="issuer"/> is trusted.</summary>
    internal void Demand(Uri issuer, Uri? namedBy)
    {
        if (!IsTrusted(issuer))
        {
            throw Refusal(issuer, namedBy);
        }
    }

    /// <summary>The <see cref="OAuthFailureReason.UntrustedAuthorizationServer"/> error for <paramref name="issuer"/> (the one message both providers use).</summary>
    internal OAuthException Refusal(Uri issuer, Uri? namedBy = null) => new(
        _configured.Length > 0
            ? $"The authorization server '{OAuthEndpoint.Describe(issuer)}' is not one of the TrustedAuthorizationServers; nothing was sent to it."
            : $"The authorization server '{OAuthEndpoint.Describe(issuer)}' is not the one this client's credentials are bound to ('{Pinned}'); nothing was sent to it. List every server it may use in TrustedAuthorizationServers.",
        OAuthFailureReason.UntrustedAuthorizationServer,
        namedBy ?? issuer);

    /// <summary>Pins <paramref name="issuer"/> if nothing is configured or pinned yet; returns whether it is trusted afterwards.</summary>
    internal bool Pin(Uri issuer)
    {
        if (_configured.Length == 0 && _pinOnFirstUse)
        {
            PinCore(Normalize(issuer));
        }

        return IsTrusted(issuer);
    }

    /// <summary>
    /// The write-once pin itself: null -> <paramref name="normalized"/> by compare-and-swap; a lost race leaves the
    /// winner's issuer (checked by <see cref="Pin"/>). Only the Coyote suite overrides it (seeded bug
    /// <c>CrossApp.IssuerPinCheckThenSet</c>, spec/coyote.md); products never do.
    /// </summary>
    private protected virtual void PinCore(string normalized) => Interlocked.CompareExchange(ref _pinned, normalized, null);

    /// <summary>For the seeded-bug variant in the Coyote suite: an unconditional write of the pin.</summary>
    private protected void WritePinUnconditionally(string normalized) => Volatile.Write(ref _pinned, normalized);
}
