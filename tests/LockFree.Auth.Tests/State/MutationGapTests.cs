namespace LockFree.Auth.Tests.State;

/// <summary>
/// Tests for the gaps the mutation run found in State/ (spec/mutation-testing.md, "Gaps"): argument guards, option
/// validation at the exact boundary, and the redacted description of a token.
/// </summary>
public sealed class MutationGapTests
{
    [Fact]
    public void Guards_NullArguments_ThrowArgumentNullNamingTheParameter()
    {
        Assert.Equal("initial", Assert.Throws<ArgumentNullException>(() => new AuthCell<string>(null!)).ParamName);
        var cell = new AuthCell<string>("a");
        Assert.Equal("transform", Assert.Throws<ArgumentNullException>(() => cell.Update<int>(null!, 0)).ParamName);
        Assert.Equal("acquire", Assert.Throws<ArgumentNullException>(() => new AuthCoordinator<TokenContainer>(null!)).ParamName);
        using var coordinator = new AuthCoordinator<TokenContainer>(static (_, _) => Task.FromResult(new TokenContainer { AccessToken = "a" }));
        Assert.Equal("isRejected", Assert.Throws<ArgumentNullException>(() => coordinator.Invalidate<int>(null!, 0)).ParamName);
    }

    public static TheoryData<string, AuthCoordinatorOptions> InvalidOptions => new()
    {
        { "SkewMargin", new AuthCoordinatorOptions { SkewMargin = TimeSpan.FromTicks(-1) } },
        { "RefreshAheadWindow", new AuthCoordinatorOptions { RefreshAheadWindow = TimeSpan.FromTicks(-1) } },
        { "RefreshRetryDelay", new AuthCoordinatorOptions { RefreshRetryDelay = TimeSpan.Zero } },
        { "MaxSkewFraction", new AuthCoordinatorOptions { MaxSkewFraction = -0.01 } },
        { "MaxSkewFraction", new AuthCoordinatorOptions { MaxSkewFraction = 1.01 } },
        { "MaxSkewFraction", new AuthCoordinatorOptions { MaxSkewFraction = double.NaN } },
        { "MaxRefreshAheadFraction", new AuthCoordinatorOptions { MaxRefreshAheadFraction = -0.01 } },
        { "MaxRefreshAheadFraction", new AuthCoordinatorOptions { MaxRefreshAheadFraction = 1.01 } },
        { "MaxRefreshAheadFraction", new AuthCoordinatorOptions { MaxRefreshAheadFraction = double.NaN } },
        { "Name", new AuthCoordinatorOptions { Name = " " } },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Options_OutOfRange_RejectedNamingTheOptionWithAMessage(string option, AuthCoordinatorOptions options)
    {
        var thrown = Assert.ThrowsAny<ArgumentException>(() => new AuthCoordinator<TokenContainer>(static (_, _) => Task.FromResult(new TokenContainer { AccessToken = "a" }), options: options));
        Assert.Equal(option, thrown.ParamName);
        Assert.Contains(option, thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_AtTheBoundaries_Accepted()
    {
        // Zero skew, zero window and fractions of exactly 0 and 1 are valid; a retry delay of one tick is.
        using var zero = new AuthCoordinator<TokenContainer>(static (_, _) => Task.FromResult(new TokenContainer { AccessToken = "a" }), options: new AuthCoordinatorOptions
        {
            SkewMargin = TimeSpan.Zero,
            RefreshAheadWindow = TimeSpan.Zero,
            MaxSkewFraction = 0,
            MaxRefreshAheadFraction = 0,
            RefreshRetryDelay = TimeSpan.FromTicks(1),
        });
        using var one = new AuthCoordinator<TokenContainer>(static (_, _) => Task.FromResult(new TokenContainer { AccessToken = "a" }), options: new AuthCoordinatorOptions
        {
            MaxSkewFraction = 1,
            MaxRefreshAheadFraction = 1,
        });
    }

    [Fact]
    public void ToString_RefreshTokenRedactedWhenPresentAndNoneWhenAbsent()
    {
        var token = new TokenContainer { AccessToken = "at-SECRET", RefreshToken = "rt-SECRET", ObtainedAt = DateTimeOffset.UnixEpoch };
        Assert.Contains("RefreshToken = [redacted]", token.ToString(), StringComparison.Ordinal);
        Assert.Contains("AccessToken = [redacted]", token.ToString(), StringComparison.Ordinal);
        Assert.Contains("Scope = (none)", token.ToString(), StringComparison.Ordinal);
        Assert.Contains("ExpiresIn = (unknown)", token.ToString(), StringComparison.Ordinal);
        Assert.Contains("RefreshToken = (none)", (token with { RefreshToken = null }).ToString(), StringComparison.Ordinal);
    }
}
