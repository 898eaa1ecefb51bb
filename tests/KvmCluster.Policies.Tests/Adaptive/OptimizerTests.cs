using KvmCluster.Policies.Balancing.Adaptive;

namespace KvmCluster.Policies.Tests.Adaptive;

public class OptimizerTests
{
    [Fact]
    public void Overloaded_host_sheds_vms_onto_the_host_whose_power_grows_least_and_idle_hosts_are_consolidated()
    {
        var f = new ArrayFleet();
        var over = f.AddHost(2000);
        var mid = f.AddHost(2000);
        var idle = f.AddHost(2000);
        var empty = f.AddHost(2000);
        f.AddVm(over, 1000, 613, 900, 0.9);
        f.AddVm(over, 1000, 870, 900, 0.9);
        f.AddVm(mid, 1000, 613, 700, 0.7);
        f.AddVm(idle, 1000, 613, 100, 0.1);
        var optimizer = new AdaptiveOptimizer(new ThrDetector(0.8), new MmtSelection());
        var moves = optimizer.Optimize(f);
        // THR 0.8: 1800/2000 = 90 % → the 613 MB VM leaves. PABFD puts it where the G5 table rises least:
        // the empty host (93.7 → 113 W, +19.3) beats idle (+20.65) and mid (+21.5) — CloudSim allows empty hosts here.
        Assert.Equal(new AdaptiveMove(0, over, empty, AdaptiveReason.Overload), moves[0]);
        // Then the least-used active host (idle, 5 %) is emptied onto mid; empty hosts are not consolidation targets.
        Assert.Equal(new AdaptiveMove(3, idle, mid, AdaptiveReason.Consolidation), moves[1]);
        Assert.Equal(2, moves.Count);
        Assert.DoesNotContain(moves, m => m.Host == empty && m.Reason == AdaptiveReason.Consolidation);
        // Tentative placements are undone.
        Assert.Equal([0, 1], f.Vms[over]);
        Assert.Equal([3], f.Vms[idle]);
    }

    [Fact]
    public void Consolidation_is_all_or_nothing()
    {
        var f = new ArrayFleet();
        var a = f.AddHost(1000);
        var b = f.AddHost(1000);
        f.AddVm(a, 1000, 613, 300, 0.3);
        f.AddVm(a, 1000, 613, 300, 0.3);
        f.AddVm(b, 1000, 613, 500, 0.5);
        // b (50 %) is tried first: its VM does not fit on a (600 + 500 > 1000). Then a (60 %): its first VM fits
        // on b (800), its second does not (1100) — so neither moves.
        var moves = new AdaptiveOptimizer(new ThrDetector(0.9), new MmtSelection()).Optimize(f);
        Assert.Empty(moves);
        Assert.Equal(2, f.Vms[a].Count);
        Assert.Single(f.Vms[b]);
    }
}
