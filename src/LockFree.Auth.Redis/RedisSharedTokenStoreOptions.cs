namespace LockFree.Auth.Redis;

/// <summary>Options of a <see cref="RedisSharedTokenStore"/>.</summary>
/// <remarks>Concurrency: read once (copied) by the store's constructor; later changes have no effect.</remarks>
public sealed class RedisSharedTokenStoreOptions
{
    /// <summary>
    /// The prefix of every key and of the notification channel: one per application (client identity), so that two
    /// applications sharing a Redis never see each other's records. Letters, digits, <c>.</c>, <c>-</c>, <c>_</c> and <c>:</c>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>; it must be set.</value>
    public string? KeyPrefix { get; set; }

    /// <summary>
    /// How long a record lives after its last publication (Redis <c>PEXPIRE</c>): longer than the refresh token is
    /// useful, so that a rotating refresh token is not lost while replicas still need it; and far longer than an
    /// exchange takes (a record that expires restarts its versions at 1, see <c>spec/distributed.md</c>).
    /// </summary>
    /// <value>The default value is 1 day.</value>
    public TimeSpan RecordTimeToLive { get; set; } = TimeSpan.FromDays(1);

    internal RedisSharedTokenStoreOptions Copy() => (RedisSharedTokenStoreOptions)MemberwiseClone();

    internal void Validate()
    {
        if (string.IsNullOrEmpty(KeyPrefix))
        {
            throw new ArgumentException("RedisSharedTokenStoreOptions.KeyPrefix is required: one prefix per application, for example \"myapp:tokens\".", nameof(KeyPrefix));
        }

        foreach (var c in KeyPrefix)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':'))
            {
                throw new ArgumentException("RedisSharedTokenStoreOptions.KeyPrefix may contain only ASCII letters, digits, '.', '-', '_' and ':'.", nameof(KeyPrefix));
            }
        }

        if (RecordTimeToLive < TimeSpan.FromSeconds(1) || RecordTimeToLive > TimeSpan.FromDays(365))
        {
            throw new ArgumentException("RedisSharedTokenStoreOptions.RecordTimeToLive must be between 1 second and 365 days.", nameof(RecordTimeToLive));
        }
    }
}
