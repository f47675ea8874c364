using System.Diagnostics;
using System.Globalization;

namespace LockFree.Auth;

/// <summary>
/// An immutable set of tokens obtained from an authorization server's token endpoint.
/// </summary>
/// <remarks>
/// <para>
/// The access token, refresh token and ID token are secrets: <see cref="ToString"/> and the debugger display
/// show only the token type, scope and lifetime, never a token value.
/// </para>
/// <para>
/// Concurrency: instances are immutable and safe to share between threads. The providers hand the same
/// instance to every caller that was served by one acquisition, so reference equality identifies "the token
/// that one exchange produced".
/// </para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed record TokenContainer
{
    /// <summary>The access token (a secret).</summary>
    public required string AccessToken { get; init; }

    /// <summary>The token type, for example <c>Bearer</c>.</summary>
    /// <value>The default value is <c>Bearer</c>.</value>
    public string TokenType { get; init; } = "Bearer";

    /// <summary>The refresh token, if the server issued one (a secret).</summary>
    public string? RefreshToken { get; init; }

    /// <summary>The space-separated scope the token was granted, if the server said.</summary>
    public string? Scope { get; init; }

    /// <summary>
    /// The issuer identifier of the authorization server that issued these tokens, set by the providers. A refresh token
    /// is sent only to this issuer; keep it when storing tokens (for example in an <c>ITokenCache</c>).
    /// </summary>
    public string? Issuer { get; init; }

    /// <summary>When the token was obtained, read from the provider's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset ObtainedAt { get; init; }

    /// <summary>The lifetime the server gave (<c>expires_in</c>), or <see langword="null"/> when it gave none.</summary>
    public TimeSpan? ExpiresIn { get; init; }

    /// <summary><see cref="ObtainedAt"/> plus <see cref="ExpiresIn"/>; <see langword="null"/> when the lifetime is unknown.</summary>
    public DateTimeOffset? ExpiresAt => ExpiresIn is { } lifetime ? ObtainedAt + lifetime : null;

    /// <summary>
    /// Whether this token set went through a shared token store (issue 13): adopted from it, or exchanged under its lease
    /// and published (or attempted to be). Its refresh token may then be held by other replicas, so while the store is
    /// unavailable it is never presented (<c>spec/distributed.md</c>, "Failure modes"). Not serialized, not a public member:
    /// a token set restored from elsewhere counts as this process's own.
    /// </summary>
    internal bool IsShared { get; init; }

    /// <summary>Returns a description without any token value.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"TokenContainer {{ TokenType = {TokenType}, Scope = {Scope ?? "(none)"}, ObtainedAt = {ObtainedAt:O}, ExpiresIn = {(ExpiresIn is { } e ? e.ToString() : "(unknown)")}, AccessToken = [redacted], RefreshToken = {(RefreshToken is null ? "(none)" : "[redacted]")} }}");
}
