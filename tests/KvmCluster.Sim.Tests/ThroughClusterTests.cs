using KvmCluster.Grains.Contracts;
using KvmCluster.Sim.Cli;
using KvmCluster.Sim.Cluster;
using KvmCluster.Sim.Datacenter;
using KvmCluster.Sim.Engine;
using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Tests;

/// <summary>
/// A replay through an in-process cluster (host grains on simulated drivers reporting the datacenter, the scheduler
/// grain deciding, migration grains moving guests between drivers) decides exactly what the direct replay decides.
/// </summary>
public sealed class ThroughClusterTests
{
    // 30 hosts × 100 VMs × 6 h: enough slack that power-saving consolidates (migrations and power-offs).
    private const string Trace = "synthetic:vms=100,days=0.25,seed=7";
    private const string Datacenter = "cloudsim-planetlab:hosts=30";
    private static readonly string PowerSaving = Path.Combine(Kvmsim.RepoRoot(), "policies", "power-saving.yaml");

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Decisions_through_the_cluster_equal_the_direct_replay(int silos)
    {
        var direct = RunCommand.ExecuteWithDecisions(new RunCommand.Options(Trace, Datacenter, PowerSaving, Compat: false, Seed: 42));

        var trace = TraceSource.Load(Trace);
        var policy = RunCommand.ResolvePolicy(PowerSaving);
        var options = RunCommand.OptionsFor(trace, compat: false);
        ClusterDecisions? cluster = null;
        var sim = new Simulation(DatacenterSource.Load(Datacenter), trace, policy, options, 42,
            decisions: dc => cluster = ClusterDecisions.Start(dc, File.ReadAllText(PowerSaving), PowerSaving, options, silos));
        try
        {
            var result = sim.Run(trace.Name);
            Assert.True(direct.Result.Summary.Migrations >= 10, $"the scenario should migrate; it made {direct.Result.Summary.Migrations}");
            Assert.Contains(direct.Decisions, d => d.Contains("power-off", StringComparison.Ordinal));
            Assert.Equal(direct.Decisions, sim.Decisions);
            Assert.Equal(direct.Result.Summary with { WallSeconds = 0 }, result.Summary with { WallSeconds = 0 });

            // The cluster really did it: its migration grains completed every migration, and it runs every guest where
            // the simulated datacenter has it.
            var events = await cluster!.Fleet.Grains.GetGrain<IEventLogGrain>(KvmCluster.Grains.Contracts.Cluster.Key).Query(null, "migration-completed", 0);
            Assert.Equal(result.Summary.Migrations, events.Count);
            var guests = await cluster.Fleet.Scheduler.Guests();
            var live = sim.Datacenter.Vms.Where(v => !v.Gone && !v.Rejected && v.Host >= 0).ToList();
            Assert.Equal(live.Count, guests.Count);
            foreach (var vm in live)
                Assert.Equal(SimFleetSnapshot.HostName(vm.Host), guests.Single(g => g.Name == SimFleetSnapshot.GuestName(vm.Id)).Host);
        }
        finally
        {
            if (cluster is not null) await cluster.DisposeAsync();
        }
    }

    [Fact]
    public void A_built_in_policy_name_or_an_adaptive_policy_is_refused_with_a_usage_error()
    {
        var named = Assert.Throws<UsageException>(() => RunCommand.Execute(new RunCommand.Options(Trace, Datacenter, "power-saving", false, 42, ThroughCluster: true)));
        Assert.Contains("as a file", named.Message);
        var adaptive = Assert.Throws<UsageException>(() => RunCommand.Execute(new RunCommand.Options(Trace, Datacenter, "lr-mmt-1.2", false, 42, ThroughCluster: true)));
        Assert.Contains("planner-family", adaptive.Message);
    }
}
