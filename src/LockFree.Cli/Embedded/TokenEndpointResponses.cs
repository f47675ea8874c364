using Microsoft.AspNetCore.Http;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The answers of the token endpoints (the authorization server's, for confidential and public clients, and the
/// identity provider's): a new access token from the <see cref="AccessTokenLedger"/>, or a counted rejection.
/// </summary>
internal sealed class TokenEndpointResponses(AccessTokenLedger tokens)
{
    private long _rejectedGrants;

    /// <summary>Token requests answered with an OAuth error.</summary>
    public long RejectedGrants => Interlocked.Read(ref _rejectedGrants);

    /// <summary>Issues an access token and writes the token response (with <paramref name="refreshToken"/> when there is one).</summary>
    public Task IssueAccessTokenAsync(HttpContext context, string scope = "storm", string? refreshToken = null)
    {
        var token = tokens.Issue();
        var body = new Dictionary<string, object>
        {
            ["access_token"] = token,
            ["token_type"] = "Bearer",
            ["expires_in"] = (long)tokens.TokenLifetime.TotalSeconds,
            ["scope"] = scope,
        };
        if (refreshToken is not null)
        {
            body["refresh_token"] = refreshToken;
        }

        return JsonResponse.WriteAsync(context, body, noStore: true);
    }

    /// <summary>Counts a rejected token request and writes its OAuth error response.</summary>
    public Task RejectAsync(HttpContext context, string error, string description, int status = StatusCodes.Status400BadRequest)
    {
        Interlocked.Increment(ref _rejectedGrants);
        return JsonResponse.ErrorAsync(context, error, description, status);
    }
}
