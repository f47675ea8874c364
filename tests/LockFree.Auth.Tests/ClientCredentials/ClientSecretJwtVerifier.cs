using System.Collections.Concurrent;
using System.Net;
using System.Text;
using LockFree.Auth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LockFree.Auth.Tests.ClientCredentials;

/// <summary>
/// The checks a token endpoint makes on a <c>client_secret_jwt</c> request (RFC 7523 §3): the HMAC signature with the
/// client's secret and the expected algorithm, <c>iss</c> = <c>sub</c> = the client ID, <c>aud</c>, an <c>exp</c>
/// in the future and at most <see cref="MaxLifetime"/> away (by the test's clock), a <c>jti</c> never seen before, and
/// no secret on the wire. Used as a <see cref="FakeOAuthServer.TokenResponder"/>: <see langword="null"/> lets the fake
/// issue a token, anything else is an <c>invalid_client</c> answer.
/// </summary>
internal sealed class ClientSecretJwtVerifier(string secret, string clientId, string audience, TimeProvider time, string algorithm = SecurityAlgorithms.HmacSha256)
{
    private static readonly JsonWebTokenHandler s_handler = new();
    private readonly ConcurrentDictionary<string, byte> _seenJti = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _rejections = new();
    private int _accepted;

    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromMinutes(5);

    public int Accepted => Volatile.Read(ref _accepted);

    public IReadOnlyList<string> Rejections => [.. _rejections];

    public HttpResponseMessage? Respond(FakeRequest request)
    {
        if (Check(request) is { } failure)
        {
            _rejections.Enqueue(failure);
            return FakeResponses.OAuthError("invalid_client", "client assertion rejected", HttpStatusCode.Unauthorized);
        }

        Interlocked.Increment(ref _accepted);
        return null;
    }

    /// <summary>Why the request's client authentication is not a valid <c>client_secret_jwt</c>, or <see langword="null"/>.</summary>
    public string? Check(FakeRequest request)
    {
        if (request.Authorization is not null || request["client_secret"] is not null || request.Body.Contains(FormEncoded(secret), StringComparison.Ordinal) || request.Body.Contains(secret, StringComparison.Ordinal))
        {
            return "the secret (or an Authorization header) was sent";
        }

        if (request["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return "client_assertion_type missing or wrong";
        }

        if (request["client_id"] is { } id && id != clientId)
        {
            return "client_id differs from the assertion's client";
        }

        if (request["client_assertion"] is not { } assertion)
        {
            return "no client_assertion";
        }

        var result = s_handler.ValidateTokenAsync(assertion, new TokenValidationParameters
        {
            IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)),
            ValidAlgorithms = [algorithm],
            ValidIssuer = clientId,
            ValidAudience = audience,
            ValidateLifetime = false, // checked below against the test's clock
        }).GetAwaiter().GetResult();
        if (!result.IsValid)
        {
            return $"signature, algorithm, iss or aud rejected: {result.Exception?.GetType().Name}";
        }

        var jwt = (JsonWebToken)result.SecurityToken;
        var now = time.GetUtcNow().UtcDateTime;
        if (jwt.Subject != clientId)
        {
            return "sub is not the client ID";
        }

        if (jwt.ValidTo <= now || jwt.ValidTo > now + MaxLifetime)
        {
            return $"exp {jwt.ValidTo:O} is not within {MaxLifetime} of {now:O}";
        }

        if (string.IsNullOrEmpty(jwt.Id) || !_seenJti.TryAdd(jwt.Id, 0))
        {
            return "jti missing or reused";
        }

        return null;
    }

    private static string FormEncoded(string value) => Uri.EscapeDataString(value).Replace("%20", "+", StringComparison.Ordinal);
}
