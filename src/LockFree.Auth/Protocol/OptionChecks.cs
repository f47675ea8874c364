namespace LockFree.Auth.Protocol;

/// <summary>
/// The one option-validation style of both providers: an <see cref="ArgumentException"/> whose
/// <see cref="ArgumentException.ParamName"/> and message name the option the user set, as <c>Type.Property</c>
/// (for example <c>ClientOAuthOptions.RedirectUri</c>).
/// </summary>
/// <remarks>Concurrency: stateless.</remarks>
internal static class OptionChecks
{
    /// <summary>The name an exception gives an option: the options type and the property, <c>CrossApplicationAccessProviderOptions.ClientId</c>.</summary>
    internal static string Qualified(string optionsType, string option) => optionsType + "." + option;

    /// <summary>An <see cref="ArgumentException"/> whose parameter name is <paramref name="optionName"/> (the message should name it too).</summary>
    internal static ArgumentException Invalid(string optionName, string message, Exception? innerException = null) =>
        new(message, optionName, innerException);

    /// <summary>Throws <see cref="ArgumentException"/> (parameter name = <paramref name="optionName"/>) if <paramref name="value"/> is null, empty or white space.</summary>
    internal static void Require(string? value, string optionName) =>
        Require(!string.IsNullOrWhiteSpace(value), optionName, $"{optionName} is required.");

    /// <summary>Throws <see cref="ArgumentException"/> (parameter name = <paramref name="option"/>) with <paramref name="message"/> unless <paramref name="ok"/>.</summary>
    internal static void Require(bool ok, string option, string message)
    {
        if (!ok)
        {
            throw new ArgumentException(message, option);
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> (parameter name = <paramref name="optionName"/>) unless <paramref name="value"/> is positive.</summary>
    internal static void RequirePositive(int value, string optionName) =>
        Require(value > 0, optionName, $"{optionName} must be positive.");

    /// <summary>Throws <see cref="ArgumentException"/> (parameter name = <paramref name="option"/>) unless <paramref name="value"/> is positive.</summary>
    internal static void RequirePositive(TimeSpan value, string option) =>
        Require(value > TimeSpan.Zero, option, $"{option} must be positive.");

    /// <summary>Throws <see cref="ArgumentException"/> (parameter name = <paramref name="option"/>) when <paramref name="value"/> is negative.</summary>
    internal static void RequireNonNegative(int value, string option) =>
        Require(value >= 0, option, $"{option} must not be negative.");

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> (parameter name = <paramref name="option"/>) unless <paramref name="min"/> &lt; <paramref name="value"/> ≤ <paramref name="max"/>.</summary>
    internal static void InRange(TimeSpan value, TimeSpan min, TimeSpan max, string option)
    {
        if (value <= min || value > max)
        {
            throw new ArgumentOutOfRangeException(option, value, $"{option} must be greater than {min} and at most {max}.");
        }
    }

    /// <summary>
    /// Runs <paramref name="validate"/> (a nested options object's own checks) and rethrows its failure as an
    /// <see cref="ArgumentException"/> naming <paramref name="option"/>, the property the user set.
    /// </summary>
    internal static void Nested(Action validate, string option)
    {
        try
        {
            validate();
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"{option} is invalid: {ex.Message}", option, ex);
        }
    }
}
