using System.Text;

namespace LockFree.Auth.Tests.Http;

public sealed class ClientAuthenticationTests
{
    private static readonly ClientAuthenticationContext Context = new(new Uri("https://as.example.com/token"), null, TimeProvider.System);

    [Fact]
    public async Task ClientSecretBasic_SpecialCharacters_FormUrlEncodesBeforeBase64()
    {
        var auth = ClientAuthentication.Create("client_secret_basic", "my client:1", "s3cr&t+/ é");
        using var request = new HttpRequestMessage(HttpMethod.Post, Context.TokenEndpoint);
        var form = new List<KeyValuePair<string, string>>();

        await auth.ApplyAsync(request, form, Context, default);

        Assert.Equal("Basic", request.Headers.Authorization!.Scheme);
        var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(request.Headers.Authorization.Parameter!));
        Assert.Equal("my+client%3A1:s3cr%26t%2B%2F+%C3%A9", decoded);
        Assert.Empty(form);
    }

    [Fact]
    public async Task ClientSecretPost_AddsIdAndSecretToForm()
    {
        var auth = ClientAuthentication.Create("client_secret_post", "client", "secret");
        using var request = new HttpRequestMessage(HttpMethod.Post, Context.TokenEndpoint);
        var form = new List<KeyValuePair<string, string>>();

        await auth.ApplyAsync(request, form, Context, default);

        Assert.Null(request.Headers.Authorization);
        Assert.Equal([new("client_id", "client"), new("client_secret", "secret")], form);
    }

    [Fact]
    public async Task None_AddsOnlyClientId()
    {
        var auth = ClientAuthentication.Create("none", "client", null);
        using var request = new HttpRequestMessage(HttpMethod.Post, Context.TokenEndpoint);
        var form = new List<KeyValuePair<string, string>>();

        await auth.ApplyAsync(request, form, Context, default);

        Assert.Null(request.Headers.Authorization);
        Assert.Equal([new("client_id", "client")], form);
    }

    [Theory]
    [InlineData("client_secret_basic")]
    [InlineData("client_secret_post")]
    public void Create_SecretMethodWithoutSecret_ThrowsClientAuthentication(string method)
    {
        var ex = Assert.Throws<OAuthException>(() => ClientAuthentication.Create(method, "client", null));
        Assert.Equal(OAuthFailureReason.ClientAuthentication, ex.Reason);
    }

    [Fact]
    public void Create_UnknownMethod_ThrowsClientAuthentication()
    {
        var ex = Assert.Throws<OAuthException>(() => ClientAuthentication.Create("tls_client_auth", "client", "secret"));
        Assert.Equal(OAuthFailureReason.ClientAuthentication, ex.Reason);
    }

    [Fact]
    public void ToString_NeverShowsSecret()
    {
        var auth = ClientAuthentication.Create("client_secret_basic", "client", "very-secret-value");
        Assert.DoesNotContain("very-secret-value", auth.ToString());
        Assert.Contains("client_secret_basic", auth.ToString());
    }

    [Theory]
    [InlineData("client_secret_post", null, true, "client_secret_post")]
    [InlineData(null, null, true, "client_secret_basic")]
    [InlineData(null, new[] { "client_secret_basic", "client_secret_post" }, true, "client_secret_basic")]
    [InlineData(null, new[] { "private_key_jwt", "client_secret_post" }, true, "client_secret_post")]
    [InlineData(null, new[] { "client_secret_basic" }, false, "none")]
    [InlineData(null, null, false, "none")]
    [InlineData(null, new[] { "client_secret_jwt", "private_key_jwt" }, true, "client_secret_jwt")]
    [InlineData(null, new[] { "client_secret_jwt", "client_secret_post" }, true, "client_secret_post")]
    [InlineData("client_secret_jwt", new[] { "client_secret_basic" }, true, "client_secret_jwt")]
    public void Negotiate_Inputs_ChoosesExpectedMethod(string? configured, string[]? supported, bool hasSecret, string expected)
    {
        Assert.Equal(expected, ClientAuthentication.Negotiate(configured, supported, hasSecret));
    }

    [Fact]
    public void Negotiate_SecretButNoSecretMethodSupported_ThrowsClientAuthentication()
    {
        var ex = Assert.Throws<OAuthException>(() => ClientAuthentication.Negotiate(null, ["private_key_jwt"], hasSecret: true, new Uri("https://as.example.com")));
        Assert.Equal(OAuthFailureReason.ClientAuthentication, ex.Reason);
    }

    [Theory]
    [InlineData("PreRegistered", null, null, true, true, "private_key_jwt")]
    [InlineData("PreRegistered", null, new[] { "client_secret_post" }, true, true, "client_secret_post")]
    [InlineData("PreRegistered", null, new[] { "client_secret_basic" }, false, true, "none")]
    [InlineData("PreRegistered", "client_secret_post", new[] { "private_key_jwt" }, true, true, "client_secret_post")]
    [InlineData("MetadataDocument", null, new[] { "client_secret_basic" }, false, false, "none")]
    [InlineData("MetadataDocument", null, new[] { "client_secret_basic" }, false, true, "private_key_jwt")]
    [InlineData("DynamicRegistration", null, null, false, false, "none")]
    [InlineData("DynamicRegistration", null, new[] { "client_secret_post", "client_secret_basic" }, false, false, "client_secret_basic")]
    [InlineData("DynamicRegistration", null, new[] { "client_secret_post" }, false, false, "client_secret_post")]
    [InlineData("DynamicRegistration", null, new[] { "tls_client_auth" }, false, false, "none")]
    [InlineData("DynamicRegistration", null, new[] { "none" }, false, true, "private_key_jwt")]
    public void Negotiate_ByIdentityKind_ChoosesExpectedMethod(string kind, string? configured, string[]? supported, bool hasSecret, bool hasSigningKey, string expected)
    {
        Assert.Equal(expected, ClientAuthentication.Negotiate(configured, supported, hasSecret, null, Enum.Parse<ClientIdentityKind>(kind), hasSigningKey));
    }

    [Fact]
    public void Create_PrivateKeyJwtWithoutSigningKey_ThrowsClientAuthentication()
    {
        var ex = Assert.Throws<OAuthException>(() => ClientAuthentication.Create("private_key_jwt", "client", null, assertion: null));
        Assert.Equal(OAuthFailureReason.ClientAuthentication, ex.Reason);
    }
}
