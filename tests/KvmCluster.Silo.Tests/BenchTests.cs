using KvmCluster.Bench;

namespace KvmCluster.Silo.Tests;

/// <summary>The bench verb's run on a tiny fleet: it really places through the scheduler and plans over every host grain.</summary>
public sealed class BenchTests
{
    [Fact]
    public async Task Bench_places_every_guest_on_the_simulated_fleet_and_times_each_planning_round()
    {
        var r = await ClusterBenchCommand.RunAsync(hostCount: 20, guestCount: 300, parallel: 8, rounds: 3, seed: 1, CancellationToken.None);
        Assert.Equal(300, r.Placed + r.Rejected);
        Assert.Equal(300, r.Placed); // 20 hosts × 32 threads × 4 take 300 small guests easily
        Assert.Equal(3, r.PlanMillis.Count);
        Assert.All(r.PlanMillis, m => Assert.True(m > 0));
        Assert.True(r.PlacementsPerSecond > 0);
    }
}
