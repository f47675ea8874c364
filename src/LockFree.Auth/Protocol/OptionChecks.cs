namespace LockFree.Auth.Protocol;

/// <summary>Validation of option values shared by both providers; the exception names the option the user set.</summary>
/// <remarks>Concurrency: stateless.</remarks>
internal static class OptionChecks
{
    /// <summary>The name an exception gives an option: the options type and the property, <c>CrossApplicationAccessProviderOptions.ClientId</c>.</summary>
    internal static string Qualified(string optionsType, string option) => optionsType + "." + option;

    /// <summary>An <see cref="ArgumentException"/> whose parameter name is <paramref name="optionName"/> (the message should name it too).</summary>
    internal static ArgumentException Invalid(string optionName, string message, Exception? innerException = null) =>
        new(message, optionName, innerException);

    /// <summary>Throws <see cref="ArgumentException"/> (parameter name = <paramref name="optionName"/>) if <paramref name="value"/> is null, empty or white space.</summary>
    internal static void Require(string? value, string optionName)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw Invalid(optionName, $"{optionName} is required.");
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> (parameter name = <paramref name="optionName"/>) unless <paramref name="value"/> is positive.</summary>
    internal static void RequirePositive(int value, string optionName)
    {
        if (value <= 0)
        {
            throw new ArgumentException($"{optionName} must be positive.", optionName);
        }
    }
}
