using KvmCluster.Sim.Cli;
using KvmCluster.Sim.Datacenter;
using KvmCluster.Sim.Engine;
using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Tests;

/// <summary>The engine on small traces whose outcome can be worked out by hand, and on the repository's sample day.</summary>
public class SimulationTests
{
    private static string Sample(params string[] parts) => Path.Combine([Kvmsim.RepoRoot(), "samples", "traces", .. parts]);

    private static SimSummary Run(Trace trace, string policy, bool compat, DatacenterSpec? spec = null, long seed = 42) =>
        new Simulation(spec ?? DatacenterSpec.CloudSimPlanetLab(), trace, RunCommand.ResolvePolicy(policy), RunCommand.OptionsFor(trace, compat), seed)
            .Run(trace.Name).Summary;

    private static Trace Constant(int vms, int percent)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"kvmsim-const-{Environment.ProcessId}-{vms}-{percent}");
        Directory.CreateDirectory(dir);
        for (var v = 0; v < vms; v++)
            File.WriteAllText(Path.Combine(dir, $"vm{v}"), string.Concat(Enumerable.Repeat($"{percent}\n", 288)));
        return PlanetLabTrace.Read(dir);
    }

    [Fact]
    public void Npa_and_dvfs_energy_follow_CloudSims_formulas_by_hand()
    {
        // One 2500-MIPS VM at a steady 50 % on a G4 + G5 pair: first fit puts it on the G5 (a G4 PE is too small).
        var trace = Constant(1, 50);
        var spec = DatacenterSpec.CloudSimPlanetLab(hosts: 2);
        // NPA: both hosts at full power from 0 to the last update at 86,100.1 s (CloudSim's 2410.8028 kWh on
        // 800 hosts is exactly this: 100,800 W × 86,100.1 s).
        Assert.Equal((117 + 135) * 86_100.1 / 3.6e6, Run(trace, "npa", true, spec).EnergyKWh, 9);
        // DVFS: the G5 at u = 1250/5320, from the second interval on (CloudSim skips an interval that starts idle).
        var u = 1250.0 / 5320;
        var watts = 101 + (105 - 101) * (u - 0.2) / 0.1;
        var dvfs = Run(trace, "dvfs", true, spec);
        Assert.Equal(watts * 286 * 300 / 3.6e6, dvfs.EnergyKWh, 9);
        Assert.Equal(0, dvfs.Migrations);
        Assert.Equal(0, dvfs.Slatah);
        Assert.Equal(1, dvfs.HostShutdowns); // the G4, never used, counts as shut down (CloudSim's Helper)
    }

    [Fact]
    public void First_fit_admits_a_vm_only_where_its_full_size_fits()
    {
        // Four 2500-MIPS VMs on one G5 (5320 MIPS): at creation each asks for its full size, so two fit.
        var trace = Constant(4, 100);
        var preset = DatacenterSpec.CloudSimPlanetLab();
        var spec = new DatacenterSpec("one-g5", [preset.HostTypes[1] with { Count = 1 }], [preset.VmTypes[0]], VmTypeAssignment.Blocks);
        var s = Run(trace, "dvfs", true, spec);
        Assert.Equal(2, s.RejectedVms);
        Assert.Equal(0, s.Slatah); // 2 × 2500 ≤ 5320: never short
        Assert.Equal(0, s.OverallSlaViolation);
    }

    [Fact]
    public void The_sample_day_gives_the_same_figures_every_run()
    {
        var trace = PlanetLabTrace.Read(Sample("planetlab-sample"));
        var spec = DatacenterSpec.CloudSimPlanetLab(hosts: 50);
        var a = Run(trace, "lr-mmt-1.2", true, spec);
        var b = Run(trace, "lr-mmt-1.2", true, spec);
        Assert.Equal(a with { WallSeconds = 0 }, b with { WallSeconds = 0 });
        Assert.True(a.Migrations > 0);
        var c = Run(trace, "lr-rs-1.2", true, spec, seed: 7);
        Assert.Equal(c with { WallSeconds = 0 }, Run(trace, "lr-rs-1.2", true, spec, seed: 7) with { WallSeconds = 0 });
    }

    [Theory]
    [InlineData("npa")]
    [InlineData("dvfs")]
    [InlineData("thr-mmt-0.8")]
    [InlineData("lr-mmt-1.2")]
    [InlineData("lr-mc-1.2")]
    public void The_sample_day_matches_its_recorded_figures(string policy)
    {
        // Recorded from this simulator in CloudSim-compatible mode (the sample is synthetic, so CloudSim never
        // ran it): a change to any of these numbers is a change to the model and must be explained.
        var expected = SampleExpectations.For(policy);
        var s = Run(PlanetLabTrace.Read(Sample("planetlab-sample")), policy, true, DatacenterSpec.CloudSimPlanetLab(hosts: 50));
        Assert.Equal(expected.Energy, s.EnergyKWh, 6);
        Assert.Equal(expected.Migrations, s.Migrations);
        Assert.Equal(expected.Slatah, s.Slatah, 9);
        Assert.Equal(expected.Pdm, s.Pdm, 9);
    }

    [Fact]
    public void Native_mode_charges_idle_power_and_moves_guests_with_the_cost_model()
    {
        var trace = PlanetLabTrace.Read(Sample("planetlab-sample"));
        var spec = DatacenterSpec.CloudSimPlanetLab(hosts: 50);
        var compat = Run(trace, "lr-mmt-1.2", true, spec);
        var native = Run(trace, "lr-mmt-1.2", false, spec);
        Assert.True(native.EnergyKWh > compat.EnergyKWh, $"idle hosts draw power natively: {native.EnergyKWh} vs {compat.EnergyKWh}");
        Assert.True(native.Migrations > 0);
        Assert.False(native.CloudSimCompat);
        Assert.Equal(0, native.RejectedVms);
    }

    [Fact]
    public void A_migration_that_cannot_converge_is_cancelled_and_the_guest_stays_on_its_source()
    {
        var trace = PlanetLabTrace.Read(Sample("planetlab-sample"));
        var options = RunCommand.OptionsFor(trace, compat: false) with { DirtyMiBpsPerBusyVcpu = 1e6 };
        var sim = new Simulation(DatacenterSpec.CloudSimPlanetLab(hosts: 50), trace, RunCommand.ResolvePolicy("lr-mmt-1.2"), options, 42);
        var s = sim.Run(trace.Name).Summary;
        Assert.True(s.Migrations > 0);
        // A busy guest dirtying memory a million times faster than 1 Gbit/s never converges (an idle one does).
        Assert.True(s.FailedMigrations > s.Migrations * 0.9, $"{s.FailedMigrations} of {s.Migrations} cancelled");
        Assert.All(sim.Datacenter.Vms, vm => Assert.False(vm.InMigration));
        Assert.All(sim.Datacenter.Vms.Where(v => !v.Gone), vm => Assert.True(vm.Host >= 0));
    }

    [Fact]
    public void Planner_policies_run_through_the_live_planner_and_power_hosts_off()
    {
        var trace = PlanetLabTrace.Read(Sample("planetlab-sample"));
        var spec = DatacenterSpec.CloudSimPlanetLab(hosts: 50);
        var saving = Run(trace, "power-saving", false, spec);
        var even = Run(trace, "evenly-distributed", false, spec);
        Assert.Equal(0, saving.RejectedVms);
        Assert.True(saving.EnergyKWh < even.EnergyKWh, $"power-saving {saving.EnergyKWh} kWh should beat evenly-distributed {even.EnergyKWh} kWh");
    }

    [Fact]
    public void Vms_arrive_and_leave_as_the_csv_trace_says()
    {
        var trace = CsvTrace.Read(Sample("sample.csv"));
        var spec = DatacenterDocument.Load(Path.Combine(Kvmsim.RepoRoot(), "samples", "datacenters", "lab.yaml"));
        var sim = new Simulation(spec, trace, RunCommand.ResolvePolicy("lr-mmt-1.2"), RunCommand.OptionsFor(trace, compat: false), 42);
        var s = sim.Run(trace.Name).Summary;
        Assert.Equal(3, s.Vms);
        Assert.Equal(0, s.RejectedVms);
        var vms = sim.Datacenter.Vms.ToDictionary(v => v.Name);
        Assert.True(vms["db-03"].Gone);                    // departed at 7200 s
        Assert.Equal(-1, vms["db-03"].Host);
        Assert.False(vms["batch-02"].Gone);
        Assert.True(vms["batch-02"].Host >= 0);            // arrived at 1500 s
        Assert.Equal(2000, vms["batch-02"].Mips);          // the "small" type
        Assert.Equal(4000, vms["web-01"].Mips);            // its own size: 2 cores, 4000 MHz
        Assert.True(s.EnergyKWh > 0);
    }
}
