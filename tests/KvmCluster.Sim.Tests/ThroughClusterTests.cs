using KvmCluster.Grains.Contracts;
using KvmCluster.Sim.Cli;
using KvmCluster.Sim.Cluster;
using KvmCluster.Sim.Datacenter;
using KvmCluster.Sim.Engine;
using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Tests;

/// <summary>
/// A replay through an in-process cluster (host grains on simulated drivers sampling the datacenter — the only usage
/// history the cluster has — the scheduler grain deciding, migration grains moving guests between drivers) decides
/// exactly what the direct replay decides, for every policy family.
/// </summary>
public sealed class ThroughClusterTests
{
    public static TheoryData<string, int> Policies()
    {
        var data = new TheoryData<string, int>();
        foreach (var p in new[] { "lr-mmt-1.2", "thr-mmt-0.8", "mad-mmt-2.5", "power-saving", "evenly-distributed" })
            foreach (var silos in new[] { 1, 3 }) data.Add(p, silos);
        return data;
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public async Task Decisions_through_the_cluster_equal_the_direct_replay(string policyName, int silos)
    {
        var traceArg = ReplayScenario.Trace();
        var datacenter = ReplayScenario.Datacenter();
        // Direct: the core on the simulator's own snapshots, the adaptive family through the live planner as the cluster runs it.
        var direct = RunCommand.ExecuteWithDecisions(new RunCommand.Options(traceArg, datacenter, policyName, Compat: false, Seed: 42, LivePlanner: true));

        var trace = TraceSource.Load(traceArg);
        var policy = RunCommand.ResolvePolicy(policyName);
        var options = RunCommand.OptionsFor(trace, compat: false) with { LivePlanner = true };
        ClusterDecisions? cluster = null;
        // The built-in name is activated by name in the cluster, as an operator would (`kvmcluster policy activate NAME`).
        var sim = new Simulation(DatacenterSource.Load(datacenter), trace, policy, options, 42,
            decisions: dc => cluster = ClusterDecisions.Start(dc, null, policyName, options, silos));
        try
        {
            var result = sim.Run(trace.Name);
            Assert.True(direct.Result.Summary.Migrations >= 5, $"{policyName} should migrate in this scenario; it made {direct.Result.Summary.Migrations}");
            Assert.Equal(direct.Decisions, sim.Decisions);
            Assert.Equal(direct.Result.Summary with { WallSeconds = 0 }, result.Summary with { WallSeconds = 0 });

            // The cluster really did it: its migration grains completed every migration the datacenter completed, and
            // it runs every guest where the simulated datacenter has it.
            var events = await cluster!.Fleet.Grains.GetGrain<IEventLogGrain>(KvmCluster.Grains.Contracts.Cluster.Key).Query(null, "migration-completed", 0);
            Assert.Equal(result.Summary.Migrations - result.Summary.FailedMigrations, events.Count);
            var guests = await cluster.Fleet.Scheduler.Guests();
            var live = sim.Datacenter.Vms.Where(v => !v.Gone && !v.Rejected && v.Host >= 0).ToList();
            Assert.Equal(live.Count, guests.Count);
            foreach (var vm in live)
                Assert.Equal(SimFleetSnapshot.HostName(vm.Host), guests.Single(g => g.Name == SimFleetSnapshot.GuestName(vm.Id)).Host);
            // Its snapshots came from what its host grains sampled: every guest carries a history of the policy's window.
            var snapshot = await cluster.Fleet.Scheduler.Snapshot();
            var window = KvmCluster.Policies.Balancing.UsageWindow.Samples(policy.Policy, options.Interval);
            Assert.Contains(snapshot.Guests, g => g.Usage.Samples == window);
            Assert.All(snapshot.Guests, g => Assert.InRange(g.Usage.Samples, 1, window));
        }
        finally
        {
            if (cluster is not null) await cluster.DisposeAsync();
        }
    }

    [Fact]
    public void A_simulator_baseline_is_refused_with_a_usage_error()
    {
        var npa = Assert.Throws<UsageException>(() => RunCommand.Execute(new RunCommand.Options(ReplayScenario.Trace(), ReplayScenario.Datacenter(), "npa", false, 42, ThroughCluster: true)));
        Assert.Contains("baseline", npa.Message);
    }
}
