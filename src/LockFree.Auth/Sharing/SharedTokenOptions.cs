using Microsoft.Extensions.Logging;

namespace LockFree.Auth;

/// <summary>Options of a <see cref="SharedTokenAcquisition"/>: protection, lease, waits and what to do when the store is unavailable.</summary>
/// <remarks>Concurrency: read once (copied) by the <see cref="SharedTokenAcquisition"/> constructor; later changes have no effect.</remarks>
public sealed class SharedTokenOptions
{
    /// <summary>
    /// Protects the token set before it is written to the store (<see cref="AesGcmSharedTokenProtector"/>: one line).
    /// Required unless <see cref="StorePlainText"/> is set.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public ISharedTokenProtector? Protector { get; set; }

    /// <summary>Opts out of protection: tokens are written to the store in plain text. Only for a store nobody else can read.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool StorePlainText { get; set; }

    /// <summary>
    /// How long a lease keeps the other replicas waiting: a holder that crashed is replaced after this long. Make it
    /// longer than a token exchange normally takes; safety does not depend on it (the version fence does).
    /// </summary>
    /// <value>The default value is 30 seconds.</value>
    public TimeSpan LeaseTimeToLive { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The longest a waiting replica waits for the holder's notification before it re-reads the record (one read per
    /// process per interval, since the coordinator runs one acquisition per process: never a polling storm).
    /// </summary>
    /// <value>The default value is 2 seconds.</value>
    public TimeSpan FallbackReadInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest one acquisition waits for other replicas' leases before it treats the store as unavailable (<see cref="FailureMode"/>).</summary>
    /// <value>The default value is 2 minutes.</value>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>What to do when the store cannot be reached.</summary>
    /// <value>The default value is <see cref="SharedStoreFailureMode.Degrade"/>.</value>
    public SharedStoreFailureMode FailureMode { get; set; } = SharedStoreFailureMode.Degrade;

    /// <summary>A name for metrics and logs (the <c>lockfree.auth.coordinator</c> tag).</summary>
    /// <value>The default value is <c>shared</c>.</value>
    public string Name { get; set; } = "shared";

    /// <summary>Where warnings (store unavailable, publication failed) and Debug events (adopted, lease, published) go (event IDs 5000–5099).</summary>
    /// <value>The default value is <see langword="null"/>: no logging.</value>
    public ILoggerFactory? LoggerFactory { get; set; }

    internal SharedTokenOptions Copy() => (SharedTokenOptions)MemberwiseClone();

    internal void Validate()
    {
        if (Protector is null && !StorePlainText)
        {
            throw new ArgumentException(
                "SharedTokenOptions.Protector is required: set it (for example to new AesGcmSharedTokenProtector(key)), or set SharedTokenOptions.StorePlainText to store tokens unprotected.",
                nameof(Protector));
        }

        if (Protector is not null && StorePlainText)
        {
            throw new ArgumentException("SharedTokenOptions.StorePlainText cannot be set together with SharedTokenOptions.Protector.", nameof(StorePlainText));
        }

        Positive(LeaseTimeToLive, "SharedTokenOptions.LeaseTimeToLive");
        Positive(FallbackReadInterval, "SharedTokenOptions.FallbackReadInterval");
        Positive(MaxWait, "SharedTokenOptions.MaxWait");
        if (!Enum.IsDefined(FailureMode))
        {
            throw new ArgumentException("SharedTokenOptions.FailureMode must be Degrade or FailClosed.", nameof(FailureMode));
        }

        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("SharedTokenOptions.Name must not be empty.", nameof(Name));
        }
    }

    private static void Positive(TimeSpan value, string optionName)
    {
        if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(1))
        {
            throw new ArgumentException($"{optionName} must be positive and at most one day.", optionName);
        }
    }
}
