using System.Globalization;
using System.Text.Json;

namespace LockFree.Auth.Protocol;

/// <summary>
/// Typed reads of the members of a JSON object from an OAuth server. Every wrong shape fails with an
/// <see cref="OAuthException"/> (<see cref="OAuthFailureReason.MalformedResponse"/>) naming the member, never its value.
/// </summary>
/// <param name="Root">The JSON object.</param>
/// <param name="Endpoint">Where it came from, for messages.</param>
/// <param name="Purpose">What the endpoint is, for messages.</param>
internal readonly record struct OAuthJson(JsonElement Root, Uri Endpoint, string Purpose)
{
    /// <summary>The string member <paramref name="name"/>; <see langword="null"/> when absent or JSON null.</summary>
    internal string? GetString(string name)
    {
        if (!Root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? Read(value, name) : throw WrongType(name, "a string");
    }

    /// <summary>The non-empty string member <paramref name="name"/>; fails when absent or empty.</summary>
    internal string GetRequiredString(string name) =>
        GetString(name) is { Length: > 0 } value ? value : throw Missing(name);

    /// <summary>The absolute http(s) URI member <paramref name="name"/>; <see langword="null"/> when absent.</summary>
    internal Uri? GetUri(string name)
    {
        var text = GetString(name);
        if (text is null)
        {
            return null;
        }

        return OAuthEndpoint.TryParseAbsolute(text) ?? throw WrongType(name, "an absolute http(s) URI");
    }

    /// <summary>The string-array member <paramref name="name"/>; <see langword="null"/> when absent.</summary>
    internal IReadOnlyList<string>? GetStringArray(string name)
    {
        if (!Root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw WrongType(name, "an array of strings");
        }

        var result = new List<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw WrongType(name, "an array of strings");
            }

            result.Add(Read(item, name));
        }

        return result.AsReadOnly();
    }

    /// <summary>The boolean member <paramref name="name"/>; <see langword="null"/> when absent.</summary>
    internal bool? GetBoolean(string name)
    {
        if (!Root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(name, "a boolean"),
        };
    }

    /// <summary>
    /// A lifetime in seconds (for example <c>expires_in</c>): a non-negative integer, as a JSON number or a numeric
    /// string (some servers send one); <see langword="null"/> when absent.
    /// </summary>
    internal TimeSpan? GetSeconds(string name, long maxSeconds)
    {
        if (!Root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        long seconds;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n))
        {
            seconds = n;
        }
        else if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && double.IsFinite(d) && d == Math.Floor(d) && Math.Abs(d) <= maxSeconds)
        {
            seconds = (long)d;
        }
        else if (value.ValueKind == JsonValueKind.String
            && long.TryParse(Read(value, name), NumberStyles.None, CultureInfo.InvariantCulture, out var s))
        {
            seconds = s;
        }
        else
        {
            throw WrongType(name, "a non-negative integer number of seconds");
        }

        if (seconds < 0 || seconds > maxSeconds)
        {
            throw WrongType(name, $"a number of seconds between 0 and {maxSeconds}");
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private string Read(JsonElement value, string name)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate cannot become a .NET string.
            throw WrongType(name, "a valid string");
        }
    }

    private OAuthException WrongType(string name, string expected) =>
        new($"The {Purpose} '{OAuthEndpoint.Describe(Endpoint)}' returned a response whose '{name}' is not {expected}.", OAuthFailureReason.MalformedResponse, Endpoint);

    private OAuthException Missing(string name) =>
        new($"The {Purpose} '{OAuthEndpoint.Describe(Endpoint)}' returned a response without '{name}'.", OAuthFailureReason.MalformedResponse, Endpoint);
}
