using System.Collections.Immutable;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>An immutable, normalized (distinct, ordinal-sorted) set of scopes; <see cref="Key"/> is its space-separated form.</summary>
internal sealed class ScopeSet
{
    private readonly ImmutableSortedSet<string> _set;

    private ScopeSet(ImmutableSortedSet<string> set)
    {
        _set = set;
        Key = string.Join(' ', set);
        Scopes = [.. set];
    }

    internal static ScopeSet Empty { get; } = new(ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal));

    internal string Key { get; }

    internal IReadOnlyList<string> Scopes { get; }

    internal bool IsEmpty => _set.IsEmpty;

    /// <summary>Parses a space-separated scope string; null when it names no scope.</summary>
    internal static ScopeSet? Parse(string? scope) =>
        string.IsNullOrWhiteSpace(scope) ? null : From(scope.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>The set of <paramref name="scopes"/>; null when there are none.</summary>
    internal static ScopeSet? From(IEnumerable<string>? scopes)
    {
        if (scopes is null)
        {
            return null;
        }

        var set = ImmutableSortedSet.CreateRange(StringComparer.Ordinal, scopes.Where(static s => !string.IsNullOrWhiteSpace(s)).Select(static s => s.Trim()));
        return set.IsEmpty ? null : new ScopeSet(set);
    }

    /// <summary>The most scopes one scope set may hold (a challenge's, or the union accumulated by step-up).</summary>
    internal const int MaxScopes = 64;

    /// <summary>The longest space-separated form of one scope set, in characters.</summary>
    internal const int MaxLength = 2048;

    /// <summary>S1: throws <see cref="OAuthFailureReason.LimitExceeded"/> when the set is beyond <see cref="MaxScopes"/> or <see cref="MaxLength"/>.</summary>
    internal void EnsureWithinLimits(Uri resource)
    {
        if (_set.Count > MaxScopes || Key.Length > MaxLength)
        {
            throw new OAuthException(
                $"The scopes required by '{OAuthEndpoint.Describe(resource)}' would grow to {_set.Count} scopes ({Key.Length} characters), beyond the limit of {MaxScopes} scopes and {MaxLength} characters; no token was requested.",
                OAuthFailureReason.LimitExceeded,
                resource);
        }
    }

    internal bool IsSupersetOf(ScopeSet other) => _set.IsSupersetOf(other._set);

    internal ScopeSet Union(ScopeSet other) => IsSupersetOf(other) ? this : new ScopeSet(_set.Union(other._set));

    internal ScopeSet Without(string scope) => _set.Contains(scope) ? new ScopeSet(_set.Remove(scope)) : this;

    public override string ToString() => Key;
}
