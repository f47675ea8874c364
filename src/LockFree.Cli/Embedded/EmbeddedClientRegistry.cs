using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The public clients of the authorization server: the pre-registered <c>lockfree login</c> client (any loopback IP
/// redirect URI, RFC 8252 §7.3) and clients registered through RFC 7591 (<c>POST /register</c>).
/// </summary>
/// <remarks>Concurrency: the table is a concurrent dictionary, the counter an Interlocked field.</remarks>
internal sealed class EmbeddedClientRegistry
{
    private readonly ConcurrentDictionary<string, RegisteredClient> _clients = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private long _registrations;

    public EmbeddedClientRegistry(EmbeddedServerSettings settings, TimeProvider time)
    {
        _time = time;
        _clients[settings.LoginClientId] = new RegisteredClient(settings.LoginClientId, "lockfree CLI", ["http://127.0.0.1/callback", "http://[::1]/callback"]);
    }

    /// <summary>RFC 7591 registrations.</summary>
    public long Registrations => Interlocked.Read(ref _registrations);

    public bool TryGet(string clientId, [MaybeNullWhen(false)] out RegisteredClient client) => _clients.TryGetValue(clientId, out client);

    /// <summary>A token request of a registered public client: no client authentication, a known <c>client_id</c>.</summary>
    public bool IsPublicClientRequest(HttpContext context, IFormCollection form) =>
        !context.Request.Headers.Authorization.ToString().StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)
        && form["client_secret"].Count == 0
        && _clients.ContainsKey(form["client_id"].ToString());

    public void Map(WebApplication app) => app.MapPost(EmbeddedEndpoints.RegisterPath, RegisterAsync);

    private async Task RegisterAsync(HttpContext context)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            await JsonResponse.ErrorAsync(context, "invalid_client_metadata", "the body is not JSON");
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("redirect_uris", out var uris) || uris.ValueKind != JsonValueKind.Array || uris.GetArrayLength() == 0
                || uris.EnumerateArray().Any(u => u.ValueKind != JsonValueKind.String || !RegisteredClient.IsAcceptable(u.GetString()!)))
            {
                await JsonResponse.ErrorAsync(context, "invalid_redirect_uri", "redirect_uris must be https URIs or http URIs on 127.0.0.1 or [::1]");
                return;
            }

            var method = root.TryGetProperty("token_endpoint_auth_method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : "none";
            if (method != "none")
            {
                await JsonResponse.ErrorAsync(context, "invalid_client_metadata", "only public clients (token_endpoint_auth_method none) may register here");
                return;
            }

            var name = root.TryGetProperty("client_name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "unnamed client";
            var client = new RegisteredClient(TokenText.Random("dc_"), name.Length > 80 ? name[..80] : name, [.. uris.EnumerateArray().Select(u => u.GetString()!)]);
            _clients[client.ClientId] = client;
            Interlocked.Increment(ref _registrations);
            context.Response.StatusCode = StatusCodes.Status201Created;
            await JsonResponse.WriteAsync(context, new Dictionary<string, object>
            {
                ["client_id"] = client.ClientId,
                ["client_id_issued_at"] = _time.GetUtcNow().ToUnixTimeSeconds(),
                ["client_name"] = client.Name,
                ["redirect_uris"] = client.RedirectUris,
                ["grant_types"] = new[] { "authorization_code", "refresh_token" },
                ["response_types"] = new[] { "code" },
                ["token_endpoint_auth_method"] = "none",
            }, noStore: true);
        }
    }
}
