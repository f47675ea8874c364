using System.Text;
using CsCheck;

namespace LockFree.Auth.Tests.OAuth;

public sealed class WwwAuthenticateTests
{
    [Fact]
    public void Parse_BearerWithQuotedCommasAndEscapes_Unescaped()
    {
        var challenge = Assert.Single(WwwAuthenticate.Parse("Bearer realm=\"a, b\", error=\"invalid_token\", error_description=\"say \\\"hi\\\", \\\\ ok\""));

        Assert.True(challenge.IsBearer);
        Assert.Equal("a, b", challenge["realm"]);
        Assert.Equal("invalid_token", challenge["error"]);
        Assert.Equal("say \"hi\", \\ ok", challenge["error_description"]);
    }

    [Fact]
    public void Parse_SeveralChallenges_AllWithTheirParameters()
    {
        var challenges = WwwAuthenticate.Parse("Basic realm=\"x\", Bearer resource_metadata=\"https://r/.well-known/oauth-protected-resource\", scope=\"a b\", DPoP algs=\"ES256\"");

        Assert.Equal(["Basic", "Bearer", "DPoP"], challenges.Select(c => c.Scheme));
        Assert.Equal("x", challenges[0]["realm"]);
        Assert.Equal("https://r/.well-known/oauth-protected-resource", challenges[1]["resource_metadata"]);
        Assert.Equal("a b", challenges[1]["scope"]);
        Assert.Equal("ES256", challenges[2]["algs"]);
    }

    [Fact]
    public void Parse_CaseInsensitiveSchemeAndNames_Found()
    {
        var challenge = Assert.Single(WwwAuthenticate.Parse("bEaReR SCOPE=\"read\" , Resource_Metadata = https://r/m"));

        Assert.True(challenge.IsBearer);
        Assert.Equal("read", challenge["scope"]);
        Assert.Equal("https://r/m", challenge["resource_metadata"]);
    }

    [Fact]
    public void Parse_SeveralHeaderLines_Concatenated()
    {
        var challenges = WwwAuthenticate.Parse(["Negotiate", "Bearer scope=\"a\""]);

        Assert.Equal(["Negotiate", "Bearer"], challenges.Select(c => c.Scheme));
    }

    [Fact]
    public void Parse_Token68AndBareSchemes_Recognized()
    {
        var challenges = WwwAuthenticate.Parse("Negotiate abc+/def==, Bearer, Basic");

        Assert.Equal("abc+/def==", challenges[0].Token68);
        Assert.Equal(["Negotiate", "Bearer", "Basic"], challenges.Select(c => c.Scheme));
        Assert.Empty(challenges[1].Parameters);
    }

    [Fact]
    public void Parse_DuplicateParameter_FirstWins()
    {
        Assert.Equal("1", WwwAuthenticate.Parse("Bearer scope=1, scope=2")[0]["scope"]);
    }

    [Fact]
    public void Parse_EmptyListElementsAndMissingComma_Tolerated()
    {
        var challenge = Assert.Single(WwwAuthenticate.Parse(" , Bearer error=\"x\" scope=\"y\",, realm=z"));

        Assert.Equal("x", challenge["error"]);
        Assert.Equal("y", challenge["scope"]);
        Assert.Equal("z", challenge["realm"]);
    }

    [Theory]
    [InlineData("Bearer scope=\"secretvalue")]
    [InlineData("=x")]
    [InlineData("Bearer realm=x, scope=, error=x")]
    [InlineData("Bearer \"quoted\"")]
    public void Parse_Malformed_FormatExceptionWithoutContent(string header)
    {
        var ex = Assert.Throws<FormatException>(() => WwwAuthenticate.Parse(header));
        Assert.StartsWith("The WWW-Authenticate header is malformed", ex.Message);
        Assert.DoesNotContain("secretvalue", ex.Message);
    }

    [Fact]
    public void Parse_EmptyHeader_NoChallenge()
    {
        Assert.Empty(WwwAuthenticate.Parse(string.Empty));
        Assert.Empty(WwwAuthenticate.Parse("  ,  "));
    }

    private static readonly Gen<string> Piece = Gen.OneOf(
        Gen.OneOf(new[] { "Bearer", "Basic", "bearer", "DPoP", " ", ",", "=", "\"", "\\", "\\\"", "scope", "error", "resource_metadata", "\"a, b\"", "abc==", "\t", "é", "\0" }),
        Gen.String[0, 8]);

    [Fact]
    public void Parse_FuzzedHeaders_ParsesOrFormatExceptionOnly()
    {
        Gen.Select(Piece.Array[0, 16], pieces => string.Concat(pieces)).Sample(header =>
        {
            try
            {
                var challenges = WwwAuthenticate.Parse(header);
                Assert.All(challenges, c => Assert.False(string.IsNullOrEmpty(c.Scheme)));
            }
            catch (FormatException)
            {
                // The only acceptable failure.
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Parse_GeneratedWellFormedChallenges_RoundTrip()
    {
        var token = Gen.Char["abcdefghijklmnopqrstuvwxyz_"].Array[1, 8].Select(c => new string(c));
        var value = Gen.String[0, 12];
        Gen.Select(token, Gen.Select(token, value).Array[1, 4]).Sample((scheme, pairs) =>
        {
            var distinct = pairs.DistinctBy(p => p.Item1, StringComparer.OrdinalIgnoreCase).ToArray();
            var header = new StringBuilder(scheme).Append(' ');
            header.Append(string.Join(", ", distinct.Select(p => $"{p.Item1}=\"{p.Item2.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"")));

            var challenge = Assert.Single(WwwAuthenticate.Parse(header.ToString()));

            Assert.Equal(scheme, challenge.Scheme);
            foreach (var (name, v) in distinct)
            {
                Assert.Equal(v, challenge[name]);
            }
        }, iter: 5_000);
    }
}
