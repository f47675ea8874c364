using System.Net;
using System.Text;

namespace LockFree.Auth.OAuth;

/// <summary>
/// The rules of RFC 8252 loopback redirect URIs: an <c>http</c> URI on the loopback IP literal (<c>127.0.0.1</c> or
/// <c>[::1]</c>, never <c>localhost</c>, §8.3) whose port may change per authorization (§7.3).
/// </summary>
/// <remarks>Concurrency: stateless; every member is safe to call concurrently.</remarks>
internal static class LoopbackRedirect
{
    /// <summary>The loopback address of <paramref name="redirect"/> when its host is a loopback IP literal.</summary>
    internal static bool TryGetLoopbackAddress(Uri redirect, out IPAddress address)
    {
        address = IPAddress.None;
        if (!redirect.IsAbsoluteUri || redirect.HostNameType is not (UriHostNameType.IPv4 or UriHostNameType.IPv6))
        {
            return false;
        }

        if (!IPAddress.TryParse(redirect.Host.Trim('[', ']'), out var parsed) || !IPAddress.IsLoopback(parsed))
        {
            return false;
        }

        address = parsed;
        return true;
    }

    /// <summary>
    /// Checks that <paramref name="redirect"/> can be served by a loopback listener and returns where to listen: the
    /// address, the port (0: ephemeral, when the URI names no port) and the path.
    /// </summary>
    /// <exception cref="OAuthException"><see cref="OAuthFailureReason.InvalidInput"/>: the URI is not a loopback IP redirect URI.</exception>
    internal static (IPAddress Address, int Port, string Path) ForListener(Uri redirect)
    {
        ArgumentNullException.ThrowIfNull(redirect);
        if (!redirect.IsAbsoluteUri || redirect.Scheme != Uri.UriSchemeHttp)
        {
            throw Invalid("The redirect URI of a loopback listener must be an absolute http URI (RFC 8252 §7.3), for example http://127.0.0.1/callback.");
        }

        if (!TryGetLoopbackAddress(redirect, out var address))
        {
            throw Invalid(
                $"The redirect URI's host '{redirect.Host}' is not a loopback IP literal: use 127.0.0.1 or [::1] " +
                "(RFC 8252 §8.3: not 'localhost', which may resolve elsewhere or to another listener).");
        }

        if (redirect.UserInfo.Length > 0 || redirect.Fragment.Length > 0)
        {
            throw Invalid("The redirect URI of a loopback listener must have neither user information nor a fragment.");
        }

        return (address, redirect.IsDefaultPort ? 0 : redirect.Port, redirect.AbsolutePath);
    }

    /// <summary><paramref name="configured"/> with <paramref name="port"/>.</summary>
    internal static Uri WithPort(Uri configured, int port) =>
        new($"{configured.Scheme}://{configured.Host}:{port.ToString(System.Globalization.CultureInfo.InvariantCulture)}{configured.PathAndQuery}");

    /// <summary>
    /// The redirect URI to send in the token request: <paramref name="configured"/>, or <paramref name="reported"/> when
    /// the callback handler reports that the authorization request named another port of the same loopback IP
    /// redirect URI. Anything else is refused: the callback may change the port of a loopback redirect, nothing more.
    /// </summary>
    internal static Uri ResolveReported(Uri configured, Uri? reported, Uri authorizationEndpoint)
    {
        if (reported is null || reported == configured)
        {
            return configured;
        }

        var samePlace = reported.IsAbsoluteUri
            && reported.Scheme == Uri.UriSchemeHttp
            && configured.Scheme == Uri.UriSchemeHttp
            && TryGetLoopbackAddress(configured, out var configuredAddress)
            && TryGetLoopbackAddress(reported, out var reportedAddress)
            && configuredAddress.Equals(reportedAddress)
            && string.Equals(reported.PathAndQuery, configured.PathAndQuery, StringComparison.Ordinal)
            && reported.UserInfo.Length == 0
            && reported.Fragment.Length == 0;
        if (!samePlace)
        {
            throw new OAuthException(
                "The authorization callback reported a redirect URI that differs from the configured one by more than the port of a loopback IP literal (RFC 8252 §7.3); it was rejected.",
                OAuthFailureReason.InvalidInput,
                authorizationEndpoint);
        }

        return reported;
    }

    /// <summary>
    /// <paramref name="authorizationUri"/> with its <c>redirect_uri</c> parameter set to <paramref name="redirect"/>;
    /// every other parameter is kept byte for byte.
    /// </summary>
    internal static Uri ReplaceRedirectUri(Uri authorizationUri, Uri redirect)
    {
        var query = authorizationUri.GetComponents(UriComponents.Query, UriFormat.UriEscaped);
        var replacement = "redirect_uri=" + Uri.EscapeDataString(redirect.OriginalString);
        var builder = new StringBuilder(authorizationUri.GetLeftPart(UriPartial.Path));
        var replaced = false;
        var first = true;
        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? part : part[..eq];
            builder.Append(first ? '?' : '&');
            first = false;
            if (string.Equals(name, "redirect_uri", StringComparison.Ordinal))
            {
                builder.Append(replacement);
                replaced = true;
            }
            else
            {
                builder.Append(part);
            }
        }

        if (!replaced)
        {
            builder.Append(first ? '?' : '&').Append(replacement);
        }

        return new Uri(builder.ToString());
    }

    private static OAuthException Invalid(string message) => new(message, OAuthFailureReason.InvalidInput);
}
