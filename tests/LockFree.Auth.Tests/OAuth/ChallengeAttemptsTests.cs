using System.Net;

namespace LockFree.Auth.Tests.OAuth;

public sealed class ChallengeAttemptsTests
{
    [Fact]
    public void TryCount_One401ThenMaxStepUps_ThenRefuses()
    {
        var attempts = new ChallengeAttempts();

        Assert.True(attempts.TryCount(HttpStatusCode.Unauthorized, maxStepUpAttempts: 2));
        Assert.False(attempts.TryCount(HttpStatusCode.Unauthorized, maxStepUpAttempts: 2));
        Assert.True(attempts.TryCount(HttpStatusCode.Forbidden, maxStepUpAttempts: 2));
        Assert.True(attempts.TryCount(HttpStatusCode.Forbidden, maxStepUpAttempts: 2));
        Assert.False(attempts.TryCount(HttpStatusCode.Forbidden, maxStepUpAttempts: 2));
    }

    [Theory]
    [InlineData(HttpStatusCode.OK)]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.InternalServerError)]
    public void TryCount_NotAChallenge_False(HttpStatusCode status) =>
        Assert.False(new ChallengeAttempts().TryCount(status, maxStepUpAttempts: 5));

    [Fact]
    public void TryCount_ZeroStepUps_403Refused() =>
        Assert.False(new ChallengeAttempts().TryCount(HttpStatusCode.Forbidden, maxStepUpAttempts: 0));
}
