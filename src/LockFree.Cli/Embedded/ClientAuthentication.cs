using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace LockFree.Cli.Embedded;

/// <summary>Authentication of a confidential client at a token endpoint: <c>client_secret_basic</c> or <c>client_secret_post</c>.</summary>
internal static class ClientAuthentication
{
    /// <summary>Whether the request carries <paramref name="clientId"/> and <paramref name="clientSecret"/> (secret compared in fixed time).</summary>
    public static bool Authenticate(HttpContext context, IFormCollection form, string clientId, string clientSecret)
    {
        string? id;
        string? secret;
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            }
            catch (FormatException)
            {
                return false;
            }

            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return false;
            }

            id = WebUtility.UrlDecode(decoded[..colon]);
            secret = WebUtility.UrlDecode(decoded[(colon + 1)..]);
        }
        else
        {
            id = form["client_id"];
            secret = form["client_secret"];
        }

        return string.Equals(id, clientId, StringComparison.Ordinal)
            && secret is not null
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(clientSecret));
    }
}
