using Microsoft.Extensions.Options;

namespace LockFree.Auth.Extensions;

/// <summary>
/// Validates a provider's named options at start-up by running the provider's own checks: it constructs the provider
/// (which validates and copies the options and sends nothing) and disposes it. A failure names the provider and the
/// option (the provider's <see cref="ArgumentException.ParamName"/>, for example <c>ClientOAuthOptions.RedirectUri</c>).
/// </summary>
/// <remarks>Concurrency: stateless; the options system may call it from any thread.</remarks>
internal sealed class ProviderOptionsValidator<TOptions>(string name, Func<TOptions, IDisposable> construct) : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? optionsName, TOptions options)
    {
        if (!string.Equals(optionsName, name, StringComparison.Ordinal))
        {
            return ValidateOptionsResult.Skip;
        }

        try
        {
            construct(options).Dispose();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            // The provider's messages name the option and never contain a secret (spec/security.md).
            return ValidateOptionsResult.Fail($"LockFree.Auth provider '{name}': {ex.Message}");
        }
    }
}
