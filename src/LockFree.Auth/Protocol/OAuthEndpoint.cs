using LockFree.Auth.Diagnostics;
using System.Net;

namespace LockFree.Auth.Protocol;

/// <summary>
/// The endpoint rule of every request LockFree.Auth sends: an absolute <c>https</c> URI without fragment, or plain
/// <c>http</c> only to a loopback host (<c>localhost</c>, 127.0.0.0/8, ::1).
/// </summary>
internal static class OAuthEndpoint
{
    /// <summary>Whether the host of <paramref name="uri"/> is a loopback host: <c>localhost</c> (or a subdomain of it), 127.0.0.0/8 or ::1.</summary>
    internal static bool IsLoopbackHost(Uri uri)
    {
        if (uri.IsLoopback)
        {
            return true;
        }

        var host = uri.IdnHost;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(uri.HostNameType == UriHostNameType.IPv6 ? host.Trim('[', ']') : host, out var address)
            && (IPAddress.IsLoopback(address) || (address.IsIPv4MappedToIPv6 && IPAddress.IsLoopback(address.MapToIPv4())));
    }

    /// <summary>Throws <see cref="OAuthException"/> (<see cref="OAuthFailureReason.InsecureEndpoint"/>) unless <paramref name="endpoint"/> may be used.</summary>
    /// <param name="endpoint">The endpoint to check.</param>
    /// <param name="purpose">What it is, for the message (for example "token endpoint").</param>
    internal static void Validate(Uri endpoint, string purpose)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!endpoint.IsAbsoluteUri)
        {
            throw new OAuthException($"The {purpose} '{endpoint.OriginalString}' is not an absolute URI.", OAuthFailureReason.InsecureEndpoint, endpoint);
        }

        var isHttps = endpoint.Scheme == Uri.UriSchemeHttps;
        var isLoopbackHttp = endpoint.Scheme == Uri.UriSchemeHttp && IsLoopbackHost(endpoint);
        if (!isHttps && !isLoopbackHttp)
        {
            throw new OAuthException(
                $"The {purpose} '{Describe(endpoint)}' must use https (plain http is allowed only for loopback hosts).",
                OAuthFailureReason.InsecureEndpoint,
                endpoint);
        }

        if (endpoint.Fragment.Length > 0)
        {
            throw new OAuthException($"The {purpose} '{Describe(endpoint)}' must not contain a fragment.", OAuthFailureReason.InsecureEndpoint, endpoint);
        }

        if (endpoint.UserInfo.Length > 0)
        {
            throw new OAuthException($"The {purpose} '{endpoint.Scheme}://{endpoint.Authority}' must not contain user information.", OAuthFailureReason.InsecureEndpoint, endpoint);
        }
    }

    /// <summary>The endpoint as shown in messages: scheme, authority and path (user information, query and fragment dropped).</summary>
    internal static string Describe(Uri endpoint) => Log.Endpoint(endpoint);

    /// <summary>Parses an absolute URI from configuration or metadata; <see langword="null"/> when it is not one.</summary>
    internal static Uri? TryParseAbsolute(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp) ? uri : null;
}
