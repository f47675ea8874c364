using System.Collections.Concurrent;
using System.Text.Json;

namespace LockFree.Cli.Storm;

/// <summary>One token request seen on a provider's back channel.</summary>
/// <param name="Timestamp">When it was sent (<see cref="TimeProvider.GetTimestamp"/>).</param>
/// <param name="GrantType">The <c>grant_type</c> form field.</param>
/// <param name="Succeeded">Whether the response was a success status.</param>
/// <param name="ExpiresIn">The <c>expires_in</c> of a successful response, if any.</param>
internal readonly record struct ObservedExchange(long Timestamp, string GrantType, bool Succeeded, TimeSpan? ExpiresIn);
