using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The authorization server's metadata (RFC 8414) and token endpoint (<c>POST /token</c>). Confidential clients get
/// the client-credentials and JWT-bearer (ID-JAG) grants here; requests of registered public clients go to the
/// <see cref="EmbeddedLogin"/> (authorization code and refresh token grants).
/// </summary>
/// <remarks>Concurrency: every counter is an Interlocked field.</remarks>
internal sealed class EmbeddedAuthorizationServer(
    EmbeddedServerSettings settings,
    EmbeddedEndpoints endpoints,
    EmbeddedClientRegistry clients,
    EmbeddedLogin login,
    IdJagSigner idJags,
    TokenEndpointResponses responses)
{
    private long _clientCredentialsGrants;
    private long _jwtBearerGrants;

    /// <summary>Access tokens issued for the client-credentials grant.</summary>
    public long ClientCredentialsGrants => Interlocked.Read(ref _clientCredentialsGrants);

    /// <summary>Access tokens issued for the JWT-bearer grant (an ID-JAG).</summary>
    public long JwtBearerGrants => Interlocked.Read(ref _jwtBearerGrants);

    public void Map(WebApplication app)
    {
        app.MapGet("/.well-known/oauth-authorization-server", Metadata);
        app.MapGet("/.well-known/openid-configuration", Metadata);
        app.MapPost(EmbeddedEndpoints.TokenPath, TokenAsync);
    }

    private Task Metadata(HttpContext context) => JsonResponse.WriteAsync(context, new Dictionary<string, object>
    {
        ["issuer"] = endpoints.Issuer,
        ["authorization_endpoint"] = endpoints.Authorization.ToString(),
        ["token_endpoint"] = endpoints.Token.ToString(),
        ["registration_endpoint"] = endpoints.Registration.ToString(),
        ["grant_types_supported"] = new[] { "client_credentials", EmbeddedProtocol.JwtBearerGrant, "authorization_code", "refresh_token" },
        ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_basic", "client_secret_post", "none" },
        ["response_types_supported"] = new[] { "code" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
        ["authorization_response_iss_parameter_supported"] = true,
        ["scopes_supported"] = new[] { "storm", "offline_access" },
    });

    private async Task TokenAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            await responses.RejectAsync(context, "invalid_request", "form content expected");
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (clients.IsPublicClientRequest(context, form))
        {
            await login.PublicClientTokenAsync(context, form);
            return;
        }

        if (!ClientAuthentication.Authenticate(context, form, settings.ClientId, settings.ClientSecret))
        {
            await responses.RejectAsync(context, "invalid_client", "client authentication failed", StatusCodes.Status401Unauthorized);
            return;
        }

        switch (form["grant_type"].ToString())
        {
            case "client_credentials":
                Interlocked.Increment(ref _clientCredentialsGrants);
                await responses.IssueAccessTokenAsync(context, refreshToken: settings.ConfidentialRefreshTokens
                    ? login.NewRefreshToken(settings.ClientId, "storm", user: "", family: null, always: true)
                    : null);
                return;
            case "refresh_token" when settings.ConfidentialRefreshTokens:
                await login.RefreshAsync(context, form, settings.ClientId);
                return;
            case EmbeddedProtocol.JwtBearerGrant:
                if (!idJags.IsValid(form["assertion"].ToString(), endpoints.Issuer, settings.ClientId))
                {
                    await responses.RejectAsync(context, "invalid_grant", "the assertion is not a valid ID-JAG for this server");
                    return;
                }

                Interlocked.Increment(ref _jwtBearerGrants);
                await responses.IssueAccessTokenAsync(context);
                return;
            default:
                await responses.RejectAsync(context, "unsupported_grant_type", "use client_credentials or jwt-bearer");
                return;
        }
    }
}
