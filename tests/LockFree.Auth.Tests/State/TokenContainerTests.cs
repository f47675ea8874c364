namespace LockFree.Auth.Tests.State;

public sealed class TokenContainerTests
{
    private static readonly TokenContainer Token = new()
    {
        AccessToken = "at-SECRET-123",
        RefreshToken = "rt-SECRET-456",
        Scope = "mcp:read",
        ObtainedAt = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
        ExpiresIn = TimeSpan.FromMinutes(5),
    };

    [Fact]
    public void ToString_NeverShowsTokenValues()
    {
        var text = Token.ToString();
        Assert.DoesNotContain("SECRET", text, StringComparison.Ordinal);
        Assert.Contains("mcp:read", text, StringComparison.Ordinal);
        Assert.Contains("[redacted]", text, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", $"{Token}", StringComparison.Ordinal);
    }

    [Fact]
    public void ExpiresAt_IsObtainedAtPlusLifetime_OrNullWhenUnknown()
    {
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 5, 0, TimeSpan.Zero), Token.ExpiresAt);
        Assert.Null((Token with { ExpiresIn = null }).ExpiresAt);
    }

    [Fact]
    public void Snapshot_ToString_NeverShowsValue()
    {
        using var coordinator = new AuthCoordinator<TokenContainer>((_, _) => Task.FromResult(Token));
        Assert.Same(Token, coordinator.GetAsync().ResultWithin());
        var text = coordinator.Current.ToString();
        Assert.DoesNotContain("SECRET", text, StringComparison.Ordinal);
        Assert.Contains("HasValue = True", text, StringComparison.Ordinal);
    }
}
