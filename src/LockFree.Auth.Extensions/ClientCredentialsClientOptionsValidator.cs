using LockFree.Auth.ClientCredentials;
using Microsoft.Extensions.Options;

namespace LockFree.Auth.Extensions;

/// <summary>
/// Validates each registered client's options with <see cref="ClientCredentialsClientOptions.Validate"/>, so a
/// misconfigured client fails the host's start (<c>ValidateOnStart</c>) with messages that name the configuration key
/// (for example <c>LockFree:Clients:billing:TokenEndpoint</c>) or, for options set in code, the client and option.
/// </summary>
/// <remarks>Concurrency: stateless apart from the registry, which is read-only once the container is built.</remarks>
internal sealed class ClientCredentialsClientOptionsValidator(IOptions<ClientRegistry> registry) : IValidateOptions<ClientCredentialsClientOptions>
{
    public ValidateOptionsResult Validate(string? name, ClientCredentialsClientOptions options)
    {
        if (name is null || !registry.Value.KeyPrefixes.TryGetValue(name, out var prefix))
        {
            return ValidateOptionsResult.Skip;
        }

        var errors = options.Validate(prefix);
        if (errors.Count == 0)
        {
            return ValidateOptionsResult.Success;
        }

        return ValidateOptionsResult.Fail(prefix is null ? errors.Select(e => $"Client-credentials client '{name}': {e}") : errors);
    }
}
