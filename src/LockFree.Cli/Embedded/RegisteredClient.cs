using System.Net;

namespace LockFree.Cli.Embedded;

/// <summary>A public client of the authorization code grant: pre-registered (<c>lockfree login</c>) or through RFC 7591.</summary>
internal sealed record RegisteredClient(string ClientId, string Name, string[] RedirectUris)
{
    /// <summary>An exact match, or the same loopback IP redirect URI on another port (RFC 8252 §7.3).</summary>
    public bool Allows(string redirectUri)
    {
        if (!Uri.TryCreate(redirectUri, UriKind.Absolute, out var asked) || asked.Fragment.Length > 0)
        {
            return false;
        }

        foreach (var registered in RedirectUris)
        {
            if (string.Equals(registered, redirectUri, StringComparison.Ordinal))
            {
                return true;
            }

            if (Uri.TryCreate(registered, UriKind.Absolute, out var r) && IsLoopbackIp(r) && IsLoopbackIp(asked)
                && r.Scheme == asked.Scheme && r.Host == asked.Host && r.PathAndQuery == asked.PathAndQuery)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a client may register <paramref name="uri"/>: https, or http on a loopback IP; no fragment.</summary>
    public static bool IsAcceptable(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var u) && u.Fragment.Length == 0 && (u.Scheme == Uri.UriSchemeHttps || IsLoopbackIp(u));

    private static bool IsLoopbackIp(Uri uri) =>
        uri.Scheme == Uri.UriSchemeHttp && uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6
        && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
}
