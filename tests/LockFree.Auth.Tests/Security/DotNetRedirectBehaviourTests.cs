using System.Net;
using System.Text;

namespace LockFree.Auth.Tests.Security;

/// <summary>
/// What the .NET redirect handler itself does, without LockFree.Auth (the facts the back channel's design rests on).
/// If a runtime update changes one of them, these fail and the design must be looked at again.
/// </summary>
public sealed class DotNetRedirectBehaviourTests
{
    [Theory]
    [InlineData(301)]
    [InlineData(302)]
    [InlineData(303)]
    [InlineData(307)]
    [InlineData(308)]
    public async Task DefaultHttpClient_CrossOriginRedirect_RemovesAuthorizationHeader(int status)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect: true);
        s.A.MapRedirect("/token", s.B.Url("/landing"), status);
        s.B.MapJson("/landing", new { });
        using var request = new HttpRequestMessage(HttpMethod.Post, s.A.Url("/token")) { Content = new StringContent("x=1") };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("client:" + RedirectScenario.ClientSecret)));
        request.Headers.TryAddWithoutValidation("X-Not-Authorization", "kept");

        using var response = await s.Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(s.B.Url("/landing"), response.RequestMessage!.RequestUri);
        Assert.Same(request, response.RequestMessage); // the same request object, its RequestUri replaced
        Assert.NotNull(Assert.Single(s.A.RequestsTo("/token")).Authorization);
        var landed = Assert.Single(s.B.RequestsTo("/landing"));
        Assert.Null(landed.Authorization);
        Assert.Equal("kept", landed.Headers["X-Not-Authorization"]); // other headers are re-sent as they are
    }

    [Theory]
    [InlineData(307)]
    [InlineData(308)]
    public async Task DefaultHttpClient_307Or308_ResendsOrdinaryBodyToOtherOrigin(int status)
    {
        // Why the back channel needs its own content: ordinary content is re-sent, secrets and all.
        await using var s = await RedirectScenario.StartAsync(autoRedirect: true);
        s.A.MapRedirect("/token", s.B.Url("/landing"), status);
        s.B.MapJson("/landing", new { });
        using var request = new HttpRequestMessage(HttpMethod.Post, s.A.Url("/token"))
        {
            Content = new FormUrlEncodedContent([new("client_secret", RedirectScenario.ClientSecret)]),
        };

        using var response = await s.Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(10));

        var landed = Assert.Single(s.B.RequestsTo("/landing"));
        Assert.Equal("POST", landed.Method);
        Assert.Contains(RedirectScenario.ClientSecret, landed.Searchable, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(301)]
    [InlineData(302)]
    [InlineData(303)]
    public async Task DefaultHttpClient_301To303AfterPost_FollowsWithGetWithoutBody(int status)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect: true);
        s.A.MapRedirect("/token", s.B.Url("/landing"), status);
        s.B.MapJson("/landing", new { });
        using var request = new HttpRequestMessage(HttpMethod.Post, s.A.Url("/token"))
        {
            Content = new FormUrlEncodedContent([new("client_secret", RedirectScenario.ClientSecret)]),
        };

        using var response = await s.Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(10));

        var landed = Assert.Single(s.B.RequestsTo("/landing"));
        Assert.Equal("GET", landed.Method);
        Assert.Equal(string.Empty, landed.Body);
    }

    [Theory]
    [InlineData(307)]
    [InlineData(308)]
    public async Task DefaultHttpClient_307Or308WithSingleTargetContent_FailsBeforeOtherOriginReceivesAnything(int status)
    {
        await using var s = await RedirectScenario.StartAsync(autoRedirect: true);
        s.A.MapRedirect("/token", s.B.Url("/landing"), status);
        s.B.MapJson("/landing", new { });
        using var request = new HttpRequestMessage(HttpMethod.Post, s.A.Url("/token"));
        using var original = new FormUrlEncodedContent([new("client_secret", RedirectScenario.ClientSecret)]);
        var content = await SingleTargetContent.CreateAsync(request, request.RequestUri!, original, CancellationToken.None);
        request.Content = content;

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => s.Http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.True(content.Refused);
        Assert.Contains(RedirectScenario.ClientSecret, Assert.Single(s.A.RequestsTo("/token")).Searchable, StringComparison.Ordinal);
        Assert.Empty(s.B.Requests); // not even the request line and headers arrived
        Assert.DoesNotContain(RedirectScenario.ClientSecret, ex.ToString(), StringComparison.Ordinal);
    }
}
