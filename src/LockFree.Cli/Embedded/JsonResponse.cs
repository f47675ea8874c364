using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace LockFree.Cli.Embedded;

/// <summary>The JSON bodies of the embedded servers: metadata, token responses and OAuth error responses.</summary>
internal static class JsonResponse
{
    /// <summary>Writes <paramref name="body"/> as <c>application/json</c>; <paramref name="noStore"/> adds <c>Cache-Control: no-store</c>.</summary>
    public static Task WriteAsync(HttpContext context, Dictionary<string, object> body, bool noStore = false)
    {
        if (noStore)
        {
            context.Response.Headers.CacheControl = "no-store";
        }

        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }

    /// <summary>An OAuth error response (RFC 6749 §5.2, RFC 7591 §3.2.2): <c>error</c> and <c>error_description</c>, not stored.</summary>
    public static Task ErrorAsync(HttpContext context, string error, string description, int status = StatusCodes.Status400BadRequest)
    {
        context.Response.StatusCode = status;
        return WriteAsync(context, new Dictionary<string, object> { ["error"] = error, ["error_description"] = description }, noStore: true);
    }
}
