using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LockFree.Auth.Protocol;

/// <summary>
/// Building OAuth requests and reading their responses: JSON object parsing with typed errors, and RFC 6749 §5.2
/// error responses turned into <see cref="OAuthException"/>. Requests are sent through <see cref="BackChannel"/>.
/// </summary>
/// <remarks>Concurrency: stateless; every member is safe to call concurrently.</remarks>
internal static class OAuthHttp
{
    /// <summary>The default maximum size of a response body: 1 MiB.</summary>
    internal const int DefaultMaxResponseBytes = 1024 * 1024;

    private const int MaxDescriptionLength = 256;

    private static readonly MediaTypeWithQualityHeaderValue s_json = new("application/json");

    /// <summary>Creates a request that accepts JSON.</summary>
    internal static HttpRequestMessage CreateRequest(HttpMethod method, Uri endpoint)
    {
        var request = new HttpRequestMessage(method, endpoint);
        request.Headers.Accept.Add(s_json);
        return request;
    }

    /// <summary>Parses <paramref name="body"/> as one JSON object; anything else fails with <see cref="OAuthFailureReason.MalformedResponse"/>.</summary>
    internal static JsonDocument ParseObject(byte[] body, Uri endpoint, string purpose, HttpStatusCode? status = null)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException ex)
        {
            throw new OAuthException($"The {purpose} '{OAuthEndpoint.Describe(endpoint)}' returned a response that is not valid JSON.", OAuthFailureReason.MalformedResponse, endpoint, status, innerException: ex);
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new OAuthException($"The {purpose} '{OAuthEndpoint.Describe(endpoint)}' returned JSON that is not an object.", OAuthFailureReason.MalformedResponse, endpoint, status);
        }

        return document;
    }

    /// <summary>
    /// The exception for a non-success response: an <see cref="OAuthFailureReason.ErrorResponse"/> when the body is
    /// an RFC 6749 §5.2 error object, else <see cref="OAuthFailureReason.UnexpectedStatus"/>. Never throws itself.
    /// </summary>
    internal static OAuthException ErrorFromResponse(HttpStatusCode status, byte[]? body, Uri endpoint, string purpose)
    {
        if (body is { Length: > 0 } && TryReadError(body, out var error, out var description, out var errorUri))
        {
            return ErrorResponse(error, description, errorUri, status, endpoint, purpose);
        }

        return new OAuthException(
            $"The {purpose} '{OAuthEndpoint.Describe(endpoint)}' returned HTTP {(int)status} ({status}) without an OAuth error.",
            OAuthFailureReason.UnexpectedStatus,
            endpoint,
            status);
    }

    /// <summary>An <see cref="OAuthFailureReason.ErrorResponse"/> exception for an error object already read.</summary>
    internal static OAuthException ErrorResponse(string error, string? description, Uri? errorUri, HttpStatusCode? status, Uri endpoint, string purpose)
    {
        var message = new StringBuilder()
            .Append("The ").Append(purpose).Append(" '").Append(OAuthEndpoint.Describe(endpoint)).Append("' returned the OAuth error '")
            .Append(error).Append('\'');
        if (status is { } s)
        {
            message.Append(" (HTTP ").Append((int)s).Append(')');
        }

        if (description is not null)
        {
            message.Append(": ").Append(description);
        }

        return new OAuthException(message.ToString(), OAuthFailureReason.ErrorResponse, endpoint, status, error, description, errorUri);
    }

    /// <summary>Reads <c>error</c>, <c>error_description</c> and <c>error_uri</c> from a body if it is an error object; never throws.</summary>
    internal static bool TryReadError(byte[] body, out string error, out string? description, out Uri? errorUri)
    {
        error = string.Empty;
        description = null;
        errorUri = null;
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 32 });
            return TryReadError(document.RootElement, out error, out description, out errorUri);
        }
        catch (JsonException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Reads an error object from a parsed JSON value; never throws.</summary>
    internal static bool TryReadError(JsonElement root, out string error, out string? description, out Uri? errorUri)
    {
        error = string.Empty;
        description = null;
        errorUri = null;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("error", out var errorElement)
            || errorElement.ValueKind != JsonValueKind.String
            || Sanitize(TryGetString(errorElement)) is not { Length: > 0 } code)
        {
            return false;
        }

        error = code;
        if (root.TryGetProperty("error_description", out var d) && d.ValueKind == JsonValueKind.String)
        {
            description = Sanitize(TryGetString(d));
        }

        if (root.TryGetProperty("error_uri", out var u) && u.ValueKind == JsonValueKind.String
            && Uri.TryCreate(TryGetString(u), UriKind.Absolute, out var parsed))
        {
            errorUri = parsed;
        }

        return true;
    }

    /// <summary>Keeps only the RFC 6749 §5.2 character set (%x20-21 / %x23-5B / %x5D-7E) and at most 256 characters.</summary>
    internal static string? Sanitize(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var builder = new StringBuilder(Math.Min(text.Length, MaxDescriptionLength));
        foreach (var c in text)
        {
            if (builder.Length == MaxDescriptionLength)
            {
                builder.Append("...");
                break;
            }

            if (c is >= ' ' and <= '~' and not '"' and not '\\')
            {
                builder.Append(c);
            }
        }

        var result = builder.ToString().Trim();
        return result.Length == 0 ? null : result;
    }

    private static string? TryGetString(JsonElement element)
    {
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

}
