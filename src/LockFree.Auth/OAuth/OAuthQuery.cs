using System.Text;

namespace LockFree.Auth.OAuth;

/// <summary>Builds and parses <c>application/x-www-form-urlencoded</c> query strings (RFC 3986 percent-encoding).</summary>
internal static class OAuthQuery
{
    /// <summary>Parses a query (with or without the leading <c>?</c>); malformed escapes are kept literally.</summary>
    internal static IEnumerable<(string Name, string Value)> Parse(string? query)
    {
        if (string.IsNullOrEmpty(query))
        {
            yield break;
        }

        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? pair : pair[..eq];
            var value = eq < 0 ? string.Empty : pair[(eq + 1)..];
            yield return (Decode(name), Decode(value));
        }
    }

    /// <summary>Appends <paramref name="parameters"/> to <paramref name="baseUri"/>, keeping its existing query.</summary>
    internal static Uri Append(Uri baseUri, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var builder = new StringBuilder(baseUri.GetLeftPart(UriPartial.Path));
        var existing = baseUri.Query;
        var first = true;
        if (existing.Length > 1)
        {
            builder.Append(existing);
            first = false;
        }

        foreach (var (name, value) in parameters)
        {
            builder.Append(first ? '?' : '&').Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
            first = false;
        }

        return new Uri(builder.ToString());
    }

    private static string Decode(string value)
    {
        try
        {
            return Uri.UnescapeDataString(value.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return value;
        }
    }
}
