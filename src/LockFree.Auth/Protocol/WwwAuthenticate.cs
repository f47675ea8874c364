using System.Collections.Frozen;
using System.Text;

namespace LockFree.Auth.Protocol;

/// <summary>One challenge of a <c>WWW-Authenticate</c> header (RFC 9110 §11.6.1).</summary>
/// <param name="Scheme">The authentication scheme, as sent (compare case-insensitively).</param>
/// <param name="Parameters">The auth-params; names compare case-insensitively, quoted values are unescaped.</param>
/// <param name="Token68">The token68 form, if the challenge used it instead of parameters.</param>
internal sealed record WwwAuthenticateChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters, string? Token68)
{
    internal string? this[string name] => Parameters.TryGetValue(name, out var value) ? value : null;

    internal bool IsBearer => string.Equals(Scheme, "Bearer", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// A strict-where-it-matters, lenient-where-servers-err parser of <c>WWW-Authenticate</c>: several challenges per
/// header, quoted strings with commas and escapes, token68, case-insensitive scheme and parameter names, optional
/// whitespace around <c>=</c>, empty list elements, a missing comma between parameters, and unquoted values that
/// are not tokens (bare URLs).
/// </summary>
/// <remarks>Concurrency: stateless.</remarks>
internal static class WwwAuthenticate
{
    /// <summary>Parses every challenge of every header line.</summary>
    /// <exception cref="FormatException">The header is malformed (the message quotes no header content).</exception>
    internal static IReadOnlyList<WwwAuthenticateChallenge> Parse(IEnumerable<string> headerValues)
    {
        ArgumentNullException.ThrowIfNull(headerValues);
        var result = new List<WwwAuthenticateChallenge>();
        foreach (var value in headerValues)
        {
            result.AddRange(Parse(value));
        }

        return result;
    }

    /// <summary>Parses every challenge of one header value.</summary>
    /// <exception cref="FormatException">The header is malformed (the message quotes no header content).</exception>
    internal static IReadOnlyList<WwwAuthenticateChallenge> Parse(string headerValue)
    {
        ArgumentNullException.ThrowIfNull(headerValue);
        var challenges = new List<WwwAuthenticateChallenge>();
        var s = headerValue;
        var pos = 0;
        string? scheme = null;
        string? token68 = null;
        Dictionary<string, string>? parameters = null;

        void Flush()
        {
            if (scheme is not null)
            {
                challenges.Add(new WwwAuthenticateChallenge(scheme, parameters!.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), token68));
            }
        }

        while (true)
        {
            SkipWhitespaceAndCommas(s, ref pos);
            if (pos >= s.Length)
            {
                break;
            }

            var start = pos;
            var name = ReadToken(s, ref pos);
            if (name.Length == 0)
            {
                throw Error("an unexpected character", start);
            }

            var afterName = pos;
            SkipWhitespace(s, ref pos);
            if (pos < s.Length && s[pos] == '=' && scheme is not null)
            {
                // auth-param: name BWS "=" BWS ( token / quoted-string )
                pos++;
                SkipWhitespace(s, ref pos);
                string value;
                if (pos < s.Length && s[pos] == '"')
                {
                    value = ReadQuoted(s, ref pos);
                }
                else
                {
                    // RFC 9110 allows only a token here; servers also send bare URLs, so read up to a delimiter.
                    value = ReadUnquoted(s, ref pos);
                    if (value.Length == 0)
                    {
                        throw Error("a parameter without a value", start);
                    }
                }

                parameters!.TryAdd(name, value); // RFC 9110: a name occurs once; the first one wins.
                continue;
            }

            // A new challenge: the scheme, then optionally token68 or the first parameter after whitespace.
            pos = afterName;
            Flush();
            scheme = name;
            token68 = null;
            parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (pos < s.Length && s[pos] is ' ' or '\t')
            {
                SkipWhitespace(s, ref pos);
                token68 = TryReadToken68(s, ref pos);
            }
        }

        Flush();
        return challenges;
    }

    // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" — only when it is the whole
    // remainder of the challenge (followed by a comma or the end), otherwise what follows is an auth-param.
    private static string? TryReadToken68(string s, ref int pos)
    {
        var start = pos;
        var p = pos;
        while (p < s.Length && IsToken68Char(s[p]))
        {
            p++;
        }

        if (p == start)
        {
            return null;
        }

        var end = p;
        while (end < s.Length && s[end] == '=')
        {
            end++;
        }

        var q = end;
        SkipWhitespace(s, ref q);
        if (q < s.Length && s[q] != ',')
        {
            return null; // "name = value" (or "name value"): auth-params, parsed by the caller.
        }

        pos = end;
        return s[start..end];
    }

    private static string ReadToken(string s, ref int pos)
    {
        var start = pos;
        while (pos < s.Length && IsTokenChar(s[pos]))
        {
            pos++;
        }

        return s[start..pos];
    }

    private static string ReadUnquoted(string s, ref int pos)
    {
        var start = pos;
        while (pos < s.Length && s[pos] is not (',' or ' ' or '\t' or '"'))
        {
            pos++;
        }

        return s[start..pos];
    }

    private static string ReadQuoted(string s, ref int pos)
    {
        var start = pos;
        pos++; // opening quote
        var builder = new StringBuilder();
        while (pos < s.Length)
        {
            var c = s[pos++];
            if (c == '"')
            {
                return builder.ToString();
            }

            if (c == '\\')
            {
                if (pos >= s.Length)
                {
                    break;
                }

                c = s[pos++];
            }

            builder.Append(c);
        }

        throw Error("an unterminated quoted string", start);
    }

    private static void SkipWhitespace(string s, ref int pos)
    {
        while (pos < s.Length && s[pos] is ' ' or '\t')
        {
            pos++;
        }
    }

    private static void SkipWhitespaceAndCommas(string s, ref int pos)
    {
        while (pos < s.Length && s[pos] is ' ' or '\t' or ',')
        {
            pos++;
        }
    }

    // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    private static bool IsToken68Char(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' or '+' or '/';

    private static FormatException Error(string what, int position) =>
        new($"The WWW-Authenticate header is malformed: {what} at position {position}.");
}
