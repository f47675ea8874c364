using LockFree.Auth.Diagnostics;
using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using LockFree.Auth.Protocol;

namespace LockFree.Auth.OAuth;

/// <summary>
/// The one compatibility path for authorization servers that reject the RFC 8707 <c>resource</c> parameter on a
/// refresh-token grant: Microsoft Entra ID answers some app registrations' refresh requests with
/// <c>AADSTS9010010</c> ("The resource parameter provided in the request doesn't match with the requested scopes").
/// </summary>
/// <remarks>
/// <para>
/// The MCP authorization specification requires <c>resource</c> on token requests and RFC 8707 §2.2 defines it for
/// refresh grants, so the provider always sends it first. Only when the answer is exactly Entra's rejection —
/// <c>error</c> <c>invalid_target</c> or <c>invalid_request</c> <b>and</b> <c>error_description</c> containing
/// <c>AADSTS9010010</c> — is the same refresh sent once more without <c>resource</c> (the refresh token was not
/// consumed: the server refused the request before looking at the grant). Any other error, including a plain
/// <c>invalid_target</c>, surfaces as before: a server that follows RFC 8707 means it (OpenIddict answers
/// <c>invalid_target</c> for a resource the client may not use), and a token obtained without <c>resource</c> would
/// not be audience-restricted to the MCP server.
/// </para>
/// <para>
/// After a retry without <c>resource</c> succeeded, later refreshes at that issuer omit it at once (remembered for the
/// provider's lifetime, per issuer), so each refresh costs one request, not two. Authorization code and client
/// credentials grants keep sending <c>resource</c>.
/// </para>
/// <para>
/// Concurrency: the set of issuers is an immutable snapshot in an <see cref="AuthCell{TState}"/> changed by
/// compare-and-swap; reading it is one volatile read. Refreshes are coalesced by the token coordinator, so N
/// concurrent requests cause one rejected refresh and one retry.
/// </para>
/// </remarks>
internal sealed class RefreshResourceCompatibility
{
    /// <summary>The Entra error code that names the rejection of <c>resource</c> on refresh.</summary>
    internal const string EntraResourceRejected = "AADSTS9010010";

    // Issuers at which a refresh without resource succeeded after Entra's rejection. Written by Remember (CAS), read
    // by OmitsResource (volatile read); a benign race: two first refreshes of one issuer both add it.
    private readonly AuthCell<ImmutableHashSet<string>> _issuers = new(ImmutableHashSet.Create<string>(StringComparer.Ordinal));

    /// <summary>Whether <paramref name="ex"/> is the refusal of <c>resource</c> on a refresh grant that the retry handles.</summary>
    internal static bool IsResourceRejectedOnRefresh(OAuthException ex) =>
        ex.Reason == OAuthFailureReason.ErrorResponse
        && ex.Error is "invalid_target" or "invalid_request"
        && ex.ErrorDescription is { } description
        && description.Contains(EntraResourceRejected, StringComparison.Ordinal);

    /// <summary>Whether refreshes at <paramref name="issuer"/> are sent without <c>resource</c>.</summary>
    internal bool OmitsResource(string issuer) => _issuers.Current.Contains(issuer);

    /// <summary>Refreshes at <paramref name="issuer"/> omit <c>resource</c> from now on.</summary>
    internal void Remember(string issuer) => _issuers.Update(static (set, i) => set.Add(i), issuer);

    /// <summary>
    /// The refresh grant with this compatibility path: <c>resource</c> is sent unless the issuer is known to refuse it;
    /// a refusal (<see cref="IsResourceRejectedOnRefresh"/>) is retried once without it, and remembered when that succeeds.
    /// </summary>
    internal async Task<TokenContainer> RefreshAsync(TokenGrantClient grants, ServerMetadata metadata, ClientAuthentication authentication, string refreshToken, ILogger logger, CancellationToken cancellationToken)
    {
        var withResource = metadata.Resource is not null && !OmitsResource(metadata.IssuerText);
        try
        {
            return await grants.RefreshAsync(metadata.GrantTarget, authentication, refreshToken, withResource, cancellationToken).ConfigureAwait(false);
        }
        catch (OAuthException ex) when (withResource && IsResourceRejectedOnRefresh(ex))
        {
            // Entra (AADSTS9010010) refuses resource on refresh for some app registrations: once more without it.
            Log.ClientOAuth.RefreshWithoutResource(logger, metadata.TokenEndpoint);
            var tokens = await grants.RefreshAsync(metadata.GrantTarget, authentication, refreshToken, withResource: false, cancellationToken).ConfigureAwait(false);
            Remember(metadata.IssuerText);
            return tokens;
        }
    }
}
