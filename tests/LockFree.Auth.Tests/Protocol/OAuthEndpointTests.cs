namespace LockFree.Auth.Tests.Http;

public sealed class OAuthEndpointTests
{
    [Theory]
    [InlineData("https://as.example.com/token")]
    [InlineData("http://localhost:5000/token")]
    [InlineData("http://LOCALHOST/token")]
    [InlineData("http://app.localhost/token")]
    [InlineData("http://127.0.0.1/token")]
    [InlineData("http://127.45.6.7:8080/token")]
    [InlineData("http://[::1]:8080/token")]
    public void Validate_HttpsOrLoopbackHttp_Accepts(string url)
    {
        var exception = Record.Exception(() => OAuthEndpoint.Validate(new Uri(url), "token endpoint"));
        Assert.Null(exception);
    }

    [Theory]
    [InlineData("http://as.example.com/token")]
    [InlineData("http://128.0.0.1/token")]
    [InlineData("http://10.0.0.1/token")]
    [InlineData("http://[::2]/token")]
    [InlineData("http://localhost.example.com/token")]
    [InlineData("ftp://as.example.com/token")]
    public void Validate_NonHttpsOffLoopback_ThrowsInsecureEndpointNamingIt(string url)
    {
        var ex = Assert.Throws<OAuthException>(() => OAuthEndpoint.Validate(new Uri(url), "token endpoint"));
        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
        Assert.Contains("token endpoint", ex.Message);
        Assert.Contains(new Uri(url).Host.Trim('[', ']'), ex.Message);
        Assert.Equal(new Uri(url), ex.Endpoint);
    }

    [Fact]
    public void Validate_Fragment_Throws()
    {
        var ex = Assert.Throws<OAuthException>(() => OAuthEndpoint.Validate(new Uri("https://as.example.com/token#x"), "token endpoint"));
        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
    }

    [Fact]
    public void Validate_UserInfo_ThrowsWithoutEchoingIt()
    {
        var ex = Assert.Throws<OAuthException>(() => OAuthEndpoint.Validate(new Uri("https://user:pa55word@as.example.com/token"), "token endpoint"));
        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
        Assert.DoesNotContain("pa55word", ex.Message);
    }

    [Fact]
    public void Validate_RelativeUri_Throws()
    {
        var ex = Assert.Throws<OAuthException>(() => OAuthEndpoint.Validate(new Uri("/token", UriKind.Relative), "token endpoint"));
        Assert.Equal(OAuthFailureReason.InsecureEndpoint, ex.Reason);
    }
}
