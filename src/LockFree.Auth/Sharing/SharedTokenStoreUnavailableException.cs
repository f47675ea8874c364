namespace LockFree.Auth;

/// <summary>
/// The shared token store could not be consulted (unreachable, timed out, a payload that cannot be unprotected, or no
/// notification and no lease progress within <see cref="SharedTokenOptions.MaxWait"/>). Thrown to callers only with
/// <see cref="SharedStoreFailureMode.FailClosed"/>; the message never contains a token.
/// </summary>
public sealed class SharedTokenStoreUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SharedTokenStoreUnavailableException()
        : this("The shared token store is unavailable.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public SharedTokenStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the store's own exception.</summary>
    public SharedTokenStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
