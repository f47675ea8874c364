using LockFree.Cli.Storm;

namespace LockFree.Cli.Tests;

public sealed class IdealExchangesTests
{
    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void Refresh_interval_follows_the_core_rules()
    {
        Assert.Equal(S(1.6), IdealExchanges.RefreshInterval(S(2)));       // 20% of 2 s
        Assert.Equal(S(3600 - 120), IdealExchanges.RefreshInterval(S(3600))); // the 2-minute window
        Assert.Equal(S(1.8), IdealExchanges.UsableFor(S(2)));
    }

    [Fact]
    public void Twenty_seconds_of_two_second_tokens_without_revocations_need_thirteen_exchanges()
    {
        var ideal = IdealExchanges.Compute(S(0), S(20), S(1.6), []);
        Assert.Equal(new IdealBreakdown(1, 12, 0), ideal);
    }

    [Fact]
    public void A_revocation_costs_one_exchange_and_restarts_the_schedule()
    {
        // 0, 1.6, 3.2, 4.8 | revoked 5.0 | 6.6, 8.2, 9.8 | revoked 10.0 | 11.6, 13.2, 14.8 | revoked 15.0 | 16.6, 18.2, 19.8
        var ideal = IdealExchanges.Compute(S(0), S(20), S(1.6), [S(5), S(10), S(15)]);
        Assert.Equal(new IdealBreakdown(1, 12, 3), ideal);
        Assert.Equal(16, ideal.Total);
    }

    [Fact]
    public void The_schedule_starts_at_the_first_exchange_and_ignores_revocations_outside_the_run()
    {
        var ideal = IdealExchanges.Compute(S(0.5), S(3), S(1.6), [S(0.2), S(4)]);
        Assert.Equal(new IdealBreakdown(1, 1, 0), ideal);
    }
}
