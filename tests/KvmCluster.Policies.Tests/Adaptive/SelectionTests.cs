using KvmCluster.Policies.Balancing.Adaptive;

namespace KvmCluster.Policies.Tests.Adaptive;

public class SelectionTests
{
    [Fact]
    public void Mmt_takes_the_least_ram_first_in_order_on_ties_and_mu_the_least_used()
    {
        var f = new ArrayFleet();
        var h = f.AddHost(10000);
        var big = f.AddVm(h, 1000, 1740, 100, 0.1);
        var small1 = f.AddVm(h, 1000, 613, 900, 0.9);
        f.AddVm(h, 1000, 613, 500, 0.5);
        Assert.Equal(small1, new MmtSelection().Select(f, h));
        Assert.Equal(big, new MuSelection().Select(f, h));
        Assert.Null(new MmtSelection().Select(f, f.AddHost(1000)));
    }

    [Fact]
    public void Rs_is_reproducible_with_a_seed()
    {
        var f = new ArrayFleet();
        var h = f.AddHost(10000);
        for (var i = 0; i < 10; i++) f.AddVm(h, 1000, 613, 100, 0.1);
        var r1 = new RsSelection(new Random(7));
        var r2 = new RsSelection(new Random(7));
        Assert.Equal(Enumerable.Range(0, 20).Select(_ => r1.Select(f, h)), Enumerable.Range(0, 20).Select(_ => r2.Select(f, h)));
    }

    [Fact]
    public void Mc_picks_a_vm_explained_by_the_others_rather_than_an_independent_one_and_falls_back_to_mmt()
    {
        var r = new Random(3);
        var x = Enumerable.Range(0, 30).Select(_ => r.NextDouble()).ToArray();
        var follower = x.Select(v => 0.8 * v + 0.02 * r.NextDouble()).ToArray();
        var independent = Enumerable.Range(0, 30).Select(_ => r.NextDouble()).ToArray();
        var f = new ArrayFleet();
        var h = f.AddHost(10000);
        var a = f.AddVm(h, 1000, 1740, 100, x);
        var b = f.AddVm(h, 1000, 870, 100, follower);
        var lone = f.AddVm(h, 1000, 613, 100, independent); // MMT would pick this one
        Assert.Equal(lone, new MmtSelection().Select(f, h));
        Assert.Contains(new McSelection(new MmtSelection()).Select(f, h)!.Value, new[] { a, b });

        // Three VMs but only three samples each: no degrees of freedom → MMT (least RAM).
        var g = new ArrayFleet();
        var h2 = g.AddHost(10000);
        g.AddVm(h2, 1000, 1740, 100, 0.1, 0.2, 0.3);
        var least = g.AddVm(h2, 1000, 613, 100, 0.3, 0.1, 0.2);
        g.AddVm(h2, 1000, 870, 100, 0.2, 0.3, 0.1);
        Assert.Equal(least, new McSelection(new MmtSelection()).Select(g, h2));
    }
}
