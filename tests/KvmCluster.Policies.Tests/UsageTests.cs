using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Randomness;
using KvmCluster.Policies.Rules;
using static KvmCluster.Policies.Tests.Build;
using PolicyT = KvmCluster.Policies.Rules.Policy;

namespace KvmCluster.Policies.Tests;

/// <summary>Usage history as host grains and the simulator keep it, the windows policies read, and stable seeds.</summary>
public class UsageTests
{
    [Fact]
    public void A_history_keeps_the_newest_samples_oldest_first_and_a_non_converging_migration_raises_its_dirty_rate()
    {
        var h = UsageHistory.Empty;
        for (var i = 1; i <= 5; i++) h = h.Append(new UsageSample(100 * i, 1000 + i, i), keep: 3);
        Assert.Equal([300.0, 400, 500], h.CpuMhz.ToArray());
        Assert.Equal([1003.0, 1004, 1005], h.MemoryMiB.ToArray());
        Assert.Equal((500, 1005, 5, 3), (h.LastCpuMhz, h.LastMemoryMiB, h.LastDirtyMiBps, h.Samples));
        Assert.Equal(15.8, h.WithObservedDirtyRate(15.8).LastDirtyMiBps);
        Assert.Equal(5, h.WithObservedDirtyRate(2).LastDirtyMiBps); // a lower measurement does not hide a higher sample
        Assert.Equal([300.0, 400, 500], h.WithObservedDirtyRate(15.8).CpuMhz.ToArray());
    }

    [Theory]
    [InlineData("default", 300, UsageWindow.Minimum)]
    [InlineData("evenly-distributed", 300, UsageWindow.Minimum)] // a 2-minute hold is one sample; two are kept
    [InlineData("evenly-distributed", 30, 4)]
    [InlineData("power-saving", 300, 8)] // DPM's 40-minute power-off window
    [InlineData("power-saving", 60, 40)]
    [InlineData("lr-mmt-1.2", 300, 30)] // CloudSim's detectors read up to 30 samples
    public void Hosts_keep_as_many_samples_as_the_policy_reads(string policy, double sampleSeconds, int samples)
    {
        Assert.True(BuiltInPolicies.TryGet(policy, out var p));
        Assert.Equal(samples, UsageWindow.Samples(p, sampleSeconds));
    }

    [Fact]
    public void Seeds_mix_their_parts_to_fixed_values_in_every_process()
    {
        // Fixed values: a seed that changed between processes or .NET versions would change plans.
        Assert.Equal(StableSeed.Mix(1, 1_700_000_000), StableSeed.Mix(1, 1_700_000_000));
        Assert.NotEqual(StableSeed.Mix(1, 1_700_000_000), StableSeed.Mix(1, 1_700_000_300));
        Assert.NotEqual(StableSeed.Mix(1, 2), StableSeed.Mix(2, 1));
        // Pinned: changing the mix changes every RS plan and simulated RS figure, so it must be a deliberate change.
        Assert.Equal(-308458717, StableSeed.Mix(1, 0));
    }

    [Fact]
    public void A_guest_never_sampled_counts_as_busy_on_all_its_vcpus_until_its_first_sample()
    {
        var host = Host("hv-1"); // 16 threads at 2100 MHz
        var fresh = Guest("fresh", vcpus: 4, host: "hv-1");
        var measured = Guest("measured", vcpus: 4, host: "hv-1") with { Usage = UsageHistory.Empty.Append(new UsageSample(500, 2048, 0), 2) };
        var state = new Placement.PlacementState(Fleet([host], [fresh, measured]), PolicyT.Default);
        Assert.Equal(4 * 2100 + 500, state.CpuUtilisation(0) * host.Cpu.CapacityMhz, 6);
    }

    [Fact]
    public void The_adaptive_family_powers_a_standby_host_on_when_its_placement_needs_it()
    {
        var cpu = SkylakeCpu with { Threads = 4, Cores = 4, MhzPerThread = 2000 };
        Guest Busy(string name, string host, double mhz) => Guest(name, vcpus: 2, host: host) with
        {
            Usage = Enumerable.Range(0, 12).Aggregate(UsageHistory.Empty, (h, _) => h.Append(new UsageSample(mhz, 2048, 0), 30)),
        };
        var fleet = Fleet([Host("hv-1", cpu), Host("hv-2", cpu) with { Power = PowerState.Standby }],
            [Busy("a", "hv-1", 3500), Busy("b", "hv-1", 3500)]);
        Assert.True(BuiltInPolicies.TryGet("thr-mmt-0.8", out var thr));
        var plan = Rebalancer.Plan(fleet, thr, new PlanningContext { Now = DateTimeOffset.UnixEpoch });
        var on = Assert.Single(plan.PowerActions);
        Assert.Equal(("hv-2", PowerOperation.PowerOn, 1), (on.Host, on.Operation, on.Wave));
        var move = Assert.Single(plan.Migrations);
        Assert.Equal(("hv-1", "hv-2"), (move.From, move.To));
        Assert.True(move.Wave > on.Wave);
        Assert.Contains("standby", on.Reasons.Single());
    }
}
