using System.Text;
using Microsoft.Extensions.Options;

namespace LockFree.Auth.Extensions;

/// <summary>Where a provider's options were bound from: each message's <c>Type.Property</c> of a bindable option becomes its configuration key.</summary>
/// <param name="TypeName">The options type's name as the provider's messages spell it, for example <c>ClientOAuthOptions</c>.</param>
/// <param name="KeyPrefix">The section's path and separator, for example <c>LockFree:Providers:mcp:</c>.</param>
/// <param name="Bindable">The options configuration can set (the others keep their <c>Type.Property</c> name: they are set in code).</param>
internal sealed record ConfigurationKeys(string TypeName, string KeyPrefix, IReadOnlySet<string> Bindable)
{
    /// <summary><paramref name="message"/> with every <c>TypeName.Bindable</c> replaced by <c>KeyPrefix + Bindable</c>.</summary>
    public string Rewrite(string message)
    {
        var marker = TypeName + ".";
        var result = new StringBuilder(message.Length + 32);
        var at = 0;
        while (message.IndexOf(marker, at, StringComparison.Ordinal) is var found and >= 0)
        {
            var start = found + marker.Length;
            var end = start;
            while (end < message.Length && char.IsAsciiLetterOrDigit(message[end]))
            {
                end++;
            }

            var property = message[start..end];
            var before = found == 0 ? ' ' : message[found - 1];
            result.Append(message, at, found - at);
            result.Append(Bindable.Contains(property) && !char.IsAsciiLetterOrDigit(before) ? KeyPrefix : marker);
            result.Append(property);
            at = end;
        }

        return result.Append(message, at, message.Length - at).ToString();
    }
}

/// <summary>
/// Validates a provider's named options at start-up by running the provider's own checks: it constructs the provider
/// (which validates and copies the options and sends nothing) and disposes it. A failure names the provider and the
/// option (the provider's <see cref="ArgumentException.ParamName"/>, for example <c>ClientOAuthOptions.RedirectUri</c>),
/// or, for an option bound from configuration, its configuration key (for example <c>LockFree:Providers:mcp:RedirectUri</c>).
/// </summary>
/// <remarks>Concurrency: stateless; the options system may call it from any thread.</remarks>
internal sealed class ProviderOptionsValidator<TOptions>(string name, Func<TOptions, IDisposable> construct, ConfigurationKeys? keys = null) : IValidateOptions<TOptions>
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
            return ValidateOptionsResult.Fail($"LockFree.Auth provider '{name}': {(keys is null ? ex.Message : keys.Rewrite(ex.Message))}");
        }
    }
}
