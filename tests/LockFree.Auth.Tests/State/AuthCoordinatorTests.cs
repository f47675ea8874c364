using Microsoft.Extensions.Time.Testing;

namespace LockFree.Auth.Tests.State;

public sealed class AuthCoordinatorTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task GetAsync_ConcurrentColdCallers_OneAcquisitionSameInstance()
    {
        var acquirer = new TestAcquirer(_time, TimeSpan.FromHours(1));
        using var coordinator = acquirer.CreateCoordinator();

        var tasks = new Task<TokenContainer>[1024];
        Parallel.For(0, tasks.Length, i => tasks[i] = coordinator.GetAsync());
        var token = acquirer.Last.Complete();

        var results = await Task.WhenAll(tasks);
        Assert.Equal(1, acquirer.Started);
        Assert.All(results, r => Assert.Same(token, r));
    }
}
