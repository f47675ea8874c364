using System.CommandLine.Parsing;
using System.Globalization;

namespace LockFree.Cli.Commands;

/// <summary>Parsing of option values: durations (<c>20s</c>, <c>500ms</c>, <c>2m</c>, bare seconds) and http(s) URLs.</summary>
internal static class OptionValues
{
    public static TimeSpan? ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (TryParseDuration(text, out var value))
        {
            return value;
        }

        result.AddError($"'{text}' is not a duration for {(result.Parent as OptionResult)?.Option.Name}: use e.g. 20s, 500ms, 2m or a number of seconds.");
        return null;
    }

    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim().ToLowerInvariant();
        (string suffix, double scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        var scale = 1.0;
        foreach (var (suffix, s) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal))
            {
                text = text[..^suffix.Length];
                scale = s;
                break;
            }
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || double.IsNaN(number) || double.IsInfinity(number) || number * scale > 1e7)
        {
            return false;
        }

        value = TimeSpan.FromSeconds(number * scale);
        return true;
    }

    public static Uri? ParseUrl(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (TryParseUrl(text, out var uri, out var error))
        {
            return uri;
        }

        result.AddError($"{(result.Parent as OptionResult)?.Option.Name}: {error}");
        return null;
    }

    public static bool TryParseUrl(string text, out Uri? uri, out string error)
    {
        error = string.Empty;
        if (!Uri.TryCreate(text, UriKind.Absolute, out uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            error = $"'{text}' is not an absolute http(s) URL.";
            uri = null;
            return false;
        }

        if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback)
        {
            error = $"'{text}' uses http: only loopback addresses may (use https).";
            uri = null;
            return false;
        }

        return true;
    }

    /// <summary>Whether <paramref name="text"/> is <c>HOST:PORT</c> (a name, an IPv4 address or a bracketed IPv6 address; port 1–65535).</summary>
    public static bool IsHostAndPort(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        var host = text[..colon];
        return host.StartsWith('[')
            ? host.EndsWith(']') && System.Net.IPAddress.TryParse(host[1..^1], out _)
            : Uri.CheckHostName(host) is UriHostNameType.Dns or UriHostNameType.IPv4;
    }
}
