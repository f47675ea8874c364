namespace LockFree.Auth.Tests.Security;

/// <summary>The fixture itself: it records what it received, and its assertions fail when a secret arrived.</summary>
public sealed class LoopbackOriginTests
{
    [Fact]
    public async Task AssertReceivedNone_SecretInBasicHeaderOrForm_Fails()
    {
        await using var origin = await LoopbackOrigin.StartAsync();
        origin.MapJson("/token", new { ok = true });
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, origin.Url("/token"))
        {
            Content = new FormUrlEncodedContent([new("client_secret", "s3cr+t value")]),
        };
        request.Headers.Authorization = new("Basic", Convert.ToBase64String("id:basic%2Bsecret"u8.ToArray()));
        using var response = await http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Single(origin.RequestsTo("/token"));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => origin.AssertReceivedNone(("form secret", "s3cr+t value")));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => origin.AssertReceivedNone(("basic secret", "basic+secret")));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(origin.AssertNoAuthorizationHeader);
        origin.AssertReceivedNone(("unrelated", "never-sent"));
    }
}
