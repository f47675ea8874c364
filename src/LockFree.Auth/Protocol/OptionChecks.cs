namespace LockFree.Auth.Protocol;

/// <summary>Validation of option values shared by both providers; the exception names the option the user set.</summary>
/// <remarks>Concurrency: stateless.</remarks>
internal static class OptionChecks
{
    /// <summary>Throws <see cref="ArgumentException"/> (parameter name = <paramref name="optionName"/>) unless <paramref name="value"/> is positive.</summary>
    internal static void RequirePositive(int value, string optionName)
    {
        if (value <= 0)
        {
            throw new ArgumentException($"{optionName} must be positive.", optionName);
        }
    }
}
