using System.Net;
using LockFree.Auth.Testing.OAuth;

namespace LockFree.Auth.Tests.OAuth;

/// <summary>The Entra compatibility path: a refresh whose <c>resource</c> is refused with AADSTS9010010 is retried once without it.</summary>
public sealed class RefreshResourceCompatibilityTests
{
    private const string EntraDescription =
        "AADSTS9010010: The resource parameter provided in the request doesn't match with the requested scopes.\r\nTrace ID: 6f1f7d40-0000-0000-0000-000000000000\r\nCorrelation ID: 0b2c0000-0000-0000-0000-000000000000\r\nTimestamp: 2026-05-19 10:00:00Z";

    [Theory]
    [InlineData("invalid_target")]
    [InlineData("invalid_request")]
    public async Task Refresh_EntraRejectsResource_RetriedOnceWithoutItAndLaterRefreshesOmitIt(string error)
    {
        using var host = new OAuthTestHost(server: s => s.RefreshResourceRejection = (error, EntraDescription));
        (await host.GetAsync()).Dispose();

        host.Time.Advance(TimeSpan.FromHours(2));
        var responses = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => host.GetAsync()));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in responses) { r.Dispose(); }
        var refreshes = host.Server.TokenEndpointRequests.Where(r => r.Form["grant_type"] == "refresh_token").ToList();
        Assert.Equal(2, refreshes.Count); // 64 requests: one refused refresh, one retry
        Assert.Equal("rt-1", refreshes[0].Form["refresh_token"]);
        Assert.Equal(FakeMcpAuthServer.ResourceUrl, refreshes[0].Form["resource"]);
        Assert.Equal("rt-1", refreshes[1].Form["refresh_token"]);
        Assert.False(refreshes[1].Form.ContainsKey("resource"));
        Assert.Equal(0, host.Server.InvalidGrants);
        Assert.Equal(1, host.Prompts);

        // Remembered for this authorization server: the next refresh goes without resource at once.
        host.Time.Advance(TimeSpan.FromHours(2));
        using (var response = await host.GetAsync())
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        refreshes = host.Server.TokenEndpointRequests.Where(r => r.Form["grant_type"] == "refresh_token").ToList();
        Assert.Equal(3, refreshes.Count);
        Assert.False(refreshes[2].Form.ContainsKey("resource"));
        Assert.Equal(1, host.Server.RefreshResourceRejections);
        Assert.Equal(1, host.Prompts);
    }

    [Fact]
    public async Task Refresh_PlainInvalidTarget_NotRetriedAndSurfaces()
    {
        // An RFC 8707 server that means it (OpenIddict: a resource the client may not use): no retry without resource.
        using var host = new OAuthTestHost(server: s => s.RefreshResourceRejection = ("invalid_target", "The specified resource is not valid."));
        (await host.GetAsync()).Dispose();

        host.Time.Advance(TimeSpan.FromHours(2));
        var ex = await Assert.ThrowsAsync<OAuthException>(() => host.GetAsync());

        Assert.Equal("invalid_target", ex.Error);
        Assert.Equal(OAuthFailureReason.ErrorResponse, ex.Reason);
        Assert.Single(host.Server.TokenEndpointRequests, r => r.Form["grant_type"] == "refresh_token");
    }

    [Theory]
    [InlineData("invalid_grant")]
    [InlineData("invalid_scope")]
    [InlineData("server_error")]
    public void IsResourceRejectedOnRefresh_OtherErrorWithTheCode_False(string error)
    {
        var ex = new OAuthException("m", OAuthFailureReason.ErrorResponse, error: error, errorDescription: "AADSTS9010010: The resource parameter ...");
        Assert.False(RefreshResourceCompatibility.IsResourceRejectedOnRefresh(ex));
    }

    [Fact]
    public void IsResourceRejectedOnRefresh_InvalidTargetWithoutTheCode_False()
    {
        Assert.False(RefreshResourceCompatibility.IsResourceRejectedOnRefresh(new OAuthException("m", OAuthFailureReason.ErrorResponse, error: "invalid_target", errorDescription: "AADSTS50011: something else")));
        Assert.False(RefreshResourceCompatibility.IsResourceRejectedOnRefresh(new OAuthException("m", OAuthFailureReason.ErrorResponse, error: "invalid_target")));
        Assert.True(RefreshResourceCompatibility.IsResourceRejectedOnRefresh(new OAuthException("m", OAuthFailureReason.ErrorResponse, error: "invalid_target", errorDescription: OAuthHttp.Sanitize(EntraDescription))));
    }
}
