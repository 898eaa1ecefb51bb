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

        // Three VMs (three coefficients) but only two samples each: commons-math refuses → MMT (least RAM).
        var g = new ArrayFleet();
        var h2 = g.AddHost(10000);
        g.AddVm(h2, 1000, 1740, 100, 0.1, 0.2);
        var least = g.AddVm(h2, 1000, 613, 100, 0.3, 0.1);
        g.AddVm(h2, 1000, 870, 100, 0.2, 0.3);
        Assert.Equal(least, new McSelection(new MmtSelection()).Select(g, h2));

        // A VM idle all along makes the designs that include it singular: CloudSim falls back for the whole choice.
        var s = new ArrayFleet();
        var h3 = s.AddHost(10000);
        s.AddVm(h3, 1000, 1740, 100, x);
        s.AddVm(h3, 1000, 1740, 100, new double[30]);
        var small = s.AddVm(h3, 1000, 613, 100, independent);
        Assert.Equal(small, new McSelection(new MmtSelection()).Select(s, h3));
    }

    [Fact]
    public void Ols_r_squared_agrees_with_a_textbook_fit_and_refuses_what_commons_math_refuses()
    {
        var r = new Random(11);
        var x1 = Enumerable.Range(0, 30).Select(_ => r.NextDouble()).ToArray();
        var x2 = Enumerable.Range(0, 30).Select(_ => r.NextDouble()).ToArray();
        var y = x1.Zip(x2, (a, b) => 0.3 + 0.5 * a - 0.2 * b + 0.1 * r.NextDouble()).ToArray();
        var design = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(30, 3, (i, j) => j == 0 ? 1 : j == 1 ? x1[i] : x2[i]);
        var beta = design.QR().Solve(MathNet.Numerics.LinearAlgebra.Vector<double>.Build.Dense(y));
        var fitted = design * beta;
        var mean = y.Average();
        var expected = 1 - y.Select((v, i) => Math.Pow(v - fitted[i], 2)).Sum() / y.Sum(v => Math.Pow(v - mean, 2));

        var ols = new OlsRSquared();
        Assert.Equal(expected, ols.Fit(y, [x1, x2])!.Value, 12);
        Assert.InRange(expected, 0.5, 1);
        Assert.Null(ols.Fit(y.AsSpan(0, 2), [x1[..2], x2[..2]]));   // 2 samples, 3 coefficients
        Assert.Null(ols.Fit(y, [x1, new double[30]]));              // a zero column: exactly singular
        Assert.Equal(1, ols.Fit(x1, [x1])!.Value, 12);               // explained perfectly
    }
}
