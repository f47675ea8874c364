using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LockFree.Cli.Embedded;

/// <summary>
/// The protected resource (<c>GET /mcp</c>) and its RFC 9728 metadata: 200 for an active access token of the
/// <see cref="AccessTokenLedger"/>, otherwise 401 with a <c>WWW-Authenticate</c> challenge pointing at the metadata.
/// Counts each answer by kind.
/// </summary>
/// <remarks>Concurrency: every counter is an Interlocked field.</remarks>
internal sealed class EmbeddedProtectedResource(EmbeddedEndpoints endpoints, AccessTokenLedger tokens)
{
    private long _ok;
    private long _challenges;
    private long _revokedRejections;
    private long _expiredRejections;
    private long _unknownRejections;

    /// <summary>Requests answered 200.</summary>
    public long Ok => Interlocked.Read(ref _ok);

    /// <summary>401s to requests without a bearer token.</summary>
    public long Challenges => Interlocked.Read(ref _challenges);

    /// <summary>401s to revoked tokens.</summary>
    public long RevokedRejections => Interlocked.Read(ref _revokedRejections);

    /// <summary>401s to expired tokens.</summary>
    public long ExpiredRejections => Interlocked.Read(ref _expiredRejections);

    /// <summary>401s to tokens the authorization server never issued.</summary>
    public long UnknownRejections => Interlocked.Read(ref _unknownRejections);

    public void Map(WebApplication app)
    {
        app.MapGet(EmbeddedEndpoints.ResourcePath, Resource);
        app.MapGet(EmbeddedEndpoints.ResourceMetadataPath + EmbeddedEndpoints.ResourcePath, Metadata);
        app.MapGet(EmbeddedEndpoints.ResourceMetadataPath, Metadata);
    }

    private Task Resource(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            Interlocked.Increment(ref _challenges);
            return Challenge(context, error: null);
        }

        switch (tokens.Check(header["Bearer ".Length..].Trim()))
        {
            case RejectionKind.Unknown:
                Interlocked.Increment(ref _unknownRejections);
                return Challenge(context, "invalid_token");
            case RejectionKind.Revoked:
                Interlocked.Increment(ref _revokedRejections);
                return Challenge(context, "invalid_token");
            case RejectionKind.Expired:
                Interlocked.Increment(ref _expiredRejections);
                return Challenge(context, "invalid_token");
        }

        Interlocked.Increment(ref _ok);
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync("{\"ok\":true}");
    }

    private Task Challenge(HttpContext context, string? error)
    {
        var metadata = endpoints.ResourceMetadata;
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = error is null
            ? $"Bearer resource_metadata=\"{metadata}\""
            : $"Bearer error=\"{error}\", resource_metadata=\"{metadata}\"";
        return Task.CompletedTask;
    }

    private Task Metadata(HttpContext context) => JsonResponse.WriteAsync(context, new Dictionary<string, object>
    {
        ["resource"] = endpoints.Resource.ToString(),
        ["authorization_servers"] = new[] { endpoints.Issuer },
        ["bearer_methods_supported"] = new[] { "header" },
        ["scopes_supported"] = new[] { "storm" },
    });
}
