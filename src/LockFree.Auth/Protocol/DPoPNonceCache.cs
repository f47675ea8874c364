using System.Collections.Immutable;

namespace LockFree.Auth.Protocol;

/// <summary>
/// The latest DPoP nonce (RFC 9449 §8, §9) each server (origin) sent: shared state of one provider, an immutable
/// snapshot in an <see cref="AuthCell{TState}"/> replaced by compare-and-swap.
/// </summary>
/// <remarks>
/// <para>
/// N concurrent answers carrying the same new nonce cause one update: the first compare-and-swap publishes it, and every
/// later one finds the value already there and changes nothing (<see cref="Updates"/> counts published changes).
/// </para>
/// <para>
/// Bounded: at most <see cref="MaxServers"/> origins are kept (a provider talks to one resource and few authorization
/// servers); a new origin beyond that starts a fresh snapshot with only itself.
/// </para>
/// <para>Concurrency: lock-free; <see cref="Get"/> is one volatile read; nonces are not secrets, but are never logged.</para>
/// </remarks>
internal sealed class DPoPNonceCache
{
    /// <summary>The most origins kept.</summary>
    internal const int MaxServers = 16;

    /// <summary>The longest nonce accepted (a server-influenced value).</summary>
    internal const int MaxNonceLength = 1024;

    // Written only by Update (CAS through AuthCell), read by Get (volatile read); the dictionaries are immutable.
    private readonly AuthCell<ImmutableDictionary<string, string>> _nonces = new(ImmutableDictionary.Create<string, string>(StringComparer.Ordinal));
    private int _updates;

    /// <summary>How many times a new nonce was published (tests, diagnostics).</summary>
    internal int Updates => Volatile.Read(ref _updates);

    /// <summary>The nonce of <paramref name="endpoint"/>'s origin, if one was received.</summary>
    internal string? Get(Uri endpoint) => _nonces.Current.GetValueOrDefault(OriginOf(endpoint));

    /// <summary>
    /// Records <paramref name="nonce"/> (a <c>DPoP-Nonce</c> header value) for <paramref name="endpoint"/>'s origin.
    /// Returns whether the snapshot changed (false when that nonce was already the current one, or it is unusable).
    /// </summary>
    internal bool Update(Uri endpoint, string? nonce)
    {
        if (!IsUsable(nonce))
        {
            return false;
        }

        var origin = OriginOf(endpoint);
        var (before, after) = _nonces.Update(
            static (current, arg) =>
                current.TryGetValue(arg.Origin, out var existing) && string.Equals(existing, arg.Nonce, StringComparison.Ordinal) ? current
                : current.Count >= MaxServers && !current.ContainsKey(arg.Origin) ? ImmutableDictionary.Create<string, string>(StringComparer.Ordinal).Add(arg.Origin, arg.Nonce)
                : current.SetItem(arg.Origin, arg.Nonce),
            (Origin: origin, Nonce: nonce!));
        if (ReferenceEquals(before, after))
        {
            return false;
        }

        Interlocked.Increment(ref _updates);
        return true;
    }

    private static string OriginOf(Uri endpoint) => endpoint.GetLeftPart(UriPartial.Authority).ToLowerInvariant();

    /// <summary>RFC 9449 §8.1: a nonce is a non-empty string of visible ASCII (NQCHAR); anything else is ignored.</summary>
    private static bool IsUsable(string? nonce) =>
        nonce is { Length: > 0 and <= MaxNonceLength } && nonce.All(static c => c is >= '!' and <= '~' and not '"' and not '\\');
}
