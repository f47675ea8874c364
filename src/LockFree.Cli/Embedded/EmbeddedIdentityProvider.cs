using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The enterprise identity provider of cross-app access: an RFC 8693 token endpoint (<c>POST /idp/token</c>) that
/// exchanges the signed-in user's ID token (<see cref="IdToken"/>) for an ID-JAG addressed to the authorization server.
/// </summary>
/// <remarks>Concurrency: the counter is an Interlocked field.</remarks>
internal sealed class EmbeddedIdentityProvider(
    EmbeddedServerSettings settings, EmbeddedEndpoints endpoints, IdJagSigner idJags, TokenEndpointResponses responses)
{
    private long _tokenExchanges;

    /// <summary>The user's ID token at the identity provider (the "signed-in user" of the cross-app flow).</summary>
    public string IdToken { get; } = TokenText.Random("idt_");

    /// <summary>ID-JAGs issued.</summary>
    public long TokenExchanges => Interlocked.Read(ref _tokenExchanges);

    public void Map(WebApplication app) => app.MapPost(EmbeddedEndpoints.IdpTokenPath, TokenAsync);

    private async Task TokenAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            await responses.RejectAsync(context, "invalid_request", "form content expected");
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (!ClientAuthentication.Authenticate(context, form, settings.IdpClientId, settings.IdpClientSecret))
        {
            await responses.RejectAsync(context, "invalid_client", "client authentication failed", StatusCodes.Status401Unauthorized);
            return;
        }

        if (form["grant_type"] != EmbeddedProtocol.TokenExchangeGrant)
        {
            await responses.RejectAsync(context, "unsupported_grant_type", "use token exchange");
            return;
        }

        if (form["requested_token_type"] != EmbeddedProtocol.IdJagTokenType || form["subject_token_type"] != EmbeddedProtocol.IdTokenType)
        {
            await responses.RejectAsync(context, "invalid_request", "requested_token_type must be id-jag and subject_token_type id_token");
            return;
        }

        if (!string.Equals(form["subject_token"], IdToken, StringComparison.Ordinal))
        {
            await responses.RejectAsync(context, "invalid_grant", "unknown subject token");
            return;
        }

        if (!string.Equals(form["audience"].ToString().TrimEnd('/'), endpoints.Issuer, StringComparison.Ordinal))
        {
            await responses.RejectAsync(context, "invalid_target", "audience must be the authorization server's issuer");
            return;
        }

        Interlocked.Increment(ref _tokenExchanges);
        var jag = idJags.Create(endpoints.Issuer, settings.ClientId, form["resource"].ToString());
        await JsonResponse.WriteAsync(context, new Dictionary<string, object>
        {
            ["access_token"] = jag,
            ["issued_token_type"] = EmbeddedProtocol.IdJagTokenType,
            ["token_type"] = "N_A",
            ["expires_in"] = 300,
        }, noStore: true);
    }
}
