using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace LockFree.Auth.Protocol;

/// <summary>An RFC 7591 client registration request; <see cref="ToString"/> never shows the initial access token.</summary>
/// <param name="RedirectUri">The redirect URI of an authorization-code client (sent with <c>response_types</c> <c>code</c>); null for a client-credentials client.</param>
/// <param name="GrantTypes">The grant types to register.</param>
/// <param name="TokenEndpointAuthMethod">The method asked for (see <see cref="ClientAuthentication.Negotiate"/>).</param>
/// <param name="ApplicationType"><c>native</c> or <c>web</c>.</param>
/// <param name="ClientName">The human-readable client name.</param>
/// <param name="ClientUri">The client's home page, if any.</param>
/// <param name="InitialAccessToken">An RFC 7591 §3 initial access token, sent as a bearer token (a secret).</param>
internal sealed record ClientRegistrationRequest(
    Uri? RedirectUri,
    IReadOnlyList<string> GrantTypes,
    string TokenEndpointAuthMethod,
    string ApplicationType,
    string ClientName,
    Uri? ClientUri,
    string? InitialAccessToken)
{
    /// <summary>Describes the request without the initial access token.</summary>
    public override string ToString() =>
        $"ClientRegistrationRequest {{ GrantTypes = [{string.Join(", ", GrantTypes)}], TokenEndpointAuthMethod = {TokenEndpointAuthMethod}, InitialAccessToken = {(InitialAccessToken is null ? "(none)" : "[redacted]")} }}";

    /// <summary>The request's JSON document (RFC 7591 §2), written with <see cref="Utf8JsonWriter"/>.</summary>
    internal byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (RedirectUri is { } redirect)
            {
                writer.WriteStartArray("redirect_uris");
                writer.WriteStringValue(redirect.OriginalString);
                writer.WriteEndArray();
                writer.WriteStartArray("response_types");
                writer.WriteStringValue("code");
                writer.WriteEndArray();
            }

            writer.WriteStartArray("grant_types");
            foreach (var grant in GrantTypes)
            {
                writer.WriteStringValue(grant);
            }

            writer.WriteEndArray();
            writer.WriteString("token_endpoint_auth_method", TokenEndpointAuthMethod);
            writer.WriteString("application_type", ApplicationType);
            writer.WriteString("client_name", ClientName);
            if (ClientUri is { } clientUri)
            {
                writer.WriteString("client_uri", clientUri.OriginalString);
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}

/// <summary>What a registration endpoint issued: the client ID, the secret (if any) and the method in force; the secret is never shown.</summary>
/// <param name="ClientId">The client identifier.</param>
/// <param name="ClientSecret">The client secret, if issued.</param>
/// <param name="TokenEndpointAuthMethod">The method the server registered (or the one asked for, when it named none).</param>
internal sealed record RegisteredClient(string ClientId, string? ClientSecret, string TokenEndpointAuthMethod)
{
    /// <summary>Describes the client without the secret.</summary>
    public override string ToString() =>
        $"RegisteredClient {{ ClientId = {ClientId}, ClientSecret = {(ClientSecret is null ? "(none)" : "[redacted]")}, TokenEndpointAuthMethod = {TokenEndpointAuthMethod} }}";
}

/// <summary>RFC 7591 dynamic client registration: POSTs a <see cref="ClientRegistrationRequest"/> and parses the response.</summary>
/// <remarks>
/// The endpoint must be https (http only on loopback); the request goes through the <see cref="IBackChannel"/> (no
/// redirect followed, bounded body, deadline). A status other than 200/201 becomes an <see cref="OAuthException"/>.
/// Concurrency: immutable; one instance serves concurrent registrations (coalescing is the caller's).
/// </remarks>
internal sealed class ClientRegistrationClient
{
    /// <summary>What the endpoint is called in messages.</summary>
    internal const string Purpose = "registration endpoint";

    private readonly IBackChannel _backChannel;

    /// <summary>Creates a client that registers through <paramref name="backChannel"/>.</summary>
    internal ClientRegistrationClient(IBackChannel backChannel)
    {
        ArgumentNullException.ThrowIfNull(backChannel);
        _backChannel = backChannel;
    }

    /// <summary>Registers at <paramref name="endpoint"/>.</summary>
    /// <exception cref="OAuthException">Any protocol failure.</exception>
    internal async Task<RegisteredClient> RegisterAsync(Uri endpoint, ClientRegistrationRequest registration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registration);
        OAuthEndpoint.Validate(endpoint, Purpose);
        using var request = OAuthHttp.CreateRequest(HttpMethod.Post, endpoint);
        request.Content = new ByteArrayContent(registration.ToJson());
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (registration.InitialAccessToken is { } initial)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", initial);
        }

        var response = await _backChannel.SendAsync(request, Purpose, cancellationToken).ConfigureAwait(false);
        var body = response.Body;
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Created))
        {
            throw OAuthHttp.ErrorFromResponse(response.StatusCode, body, endpoint, Purpose);
        }

        return ParseRegistration(body, endpoint, registration.TokenEndpointAuthMethod);
    }

    /// <summary>Parses an RFC 7591 registration response. Exposed for tests and fuzzing.</summary>
    internal static RegisteredClient ParseRegistration(byte[] body, Uri endpoint, string requestedMethod)
    {
        using var document = OAuthHttp.ParseObject(body, endpoint, Purpose);
        var json = new OAuthJson(document.RootElement, endpoint, Purpose);
        var clientId = json.GetRequiredString("client_id");
        var secret = json.GetString("client_secret");
        var method = json.GetString("token_endpoint_auth_method") ?? requestedMethod;
        if (string.IsNullOrEmpty(secret) && method is OAuthConstants.ClientSecretBasic or OAuthConstants.ClientSecretPost)
        {
            throw new OAuthException(
                $"The {Purpose} '{OAuthEndpoint.Describe(endpoint)}' registered '{OAuthHttp.Sanitize(method)}' but returned no 'client_secret'.",
                OAuthFailureReason.MalformedResponse,
                endpoint);
        }

        return new RegisteredClient(clientId, string.IsNullOrEmpty(secret) ? null : secret, method);
    }
}
