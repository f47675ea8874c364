namespace LockFree.Auth;

/// <summary>The shared record of one key: a value, its version and whether it was retired.</summary>
/// <remarks>Concurrency: immutable; safe to share between threads.</remarks>
public sealed class SharedTokenRecord
{
    /// <summary>Creates a record.</summary>
    /// <param name="version">The version: 1 for the first publication, one more for each later one.</param>
    /// <param name="value">The token set it holds.</param>
    /// <param name="isRetired">Whether a rejection retired its access token (its refresh token is still the one to use).</param>
    public SharedTokenRecord(long version, SharedTokenValue value, bool isRetired)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(version);
        ArgumentNullException.ThrowIfNull(value);
        Version = version;
        Value = value;
        IsRetired = isRetired;
    }

    /// <summary>The version: 1 for the first publication, one more for each later one; never reused while the record lives.</summary>
    public long Version { get; }

    /// <summary>The token set it holds.</summary>
    public SharedTokenValue Value { get; }

    /// <summary>Whether a rejection retired its access token (its refresh token is still the one to exchange).</summary>
    public bool IsRetired { get; }
}
