using KvmCluster.Policies.Balancing.Adaptive;

namespace KvmCluster.Policies.Tests.Adaptive;

public class CloudSimArithmeticTests
{
    /// <summary>CloudSim's PowerModelSpecPower.getPower, literally, as the reference for PowerModel.At.</summary>
    private static double CloudSimPower(double[] data, double utilization)
    {
        if (utilization % 0.1 == 0) return data[(int)(utilization * 10)];
        var u1 = (int)Math.Floor(utilization * 10);
        var u2 = (int)Math.Ceiling(utilization * 10);
        var delta = (data[u2] - data[u1]) / 10;
        return data[u1] + delta * (utilization - (double)u1 / 10) * 100;
    }

    [Fact]
    public void Power_tables_interpolate_exactly_as_CloudSim_does_bit_for_bit()
    {
        var model = KvmCluster.Policies.Model.PowerModel.HpMl110G5;
        var data = model.Watts.ToArray();
        var r = new Random(5);
        var points = Enumerable.Range(0, 200_000).Select(_ => r.NextDouble())
            .Concat(Enumerable.Range(0, 11).Select(k => k * 0.1))                   // the grid, computed as CloudSim would
            .Concat(Enumerable.Range(0, 1001).Select(k => k / 1000.0))             // round fractions
            .Concat(Enumerable.Range(1, 10).Select(k => Math.BitIncrement(k * 0.1))) // just off the grid
            .Where(u => u is >= 0 and <= 1);
        foreach (var u in points)
            Assert.Equal(BitConverter.DoubleToInt64Bits(CloudSimPower(data, u)), BitConverter.DoubleToInt64Bits(model.At(u)));
    }

    [Fact]
    public void The_lr_line_fit_is_MathNets_simple_regression_bit_for_bit()
    {
        var r = new Random(9);
        var x = Enumerable.Range(1, 10).Select(i => (double)i).ToArray();
        for (var k = 0; k < 20_000; k++)
        {
            var y = Enumerable.Range(0, 10).Select(_ => Math.Round(r.NextDouble(), r.Next(1, 16))).ToArray();
            var (a, b) = MathNet.Numerics.LinearRegression.SimpleRegression.Fit(x, y);
            var (intercept, slope) = AdaptiveMath.LinearFit(y);
            Assert.Equal(BitConverter.DoubleToInt64Bits(a), BitConverter.DoubleToInt64Bits(intercept));
            Assert.Equal(BitConverter.DoubleToInt64Bits(b), BitConverter.DoubleToInt64Bits(slope));
        }
    }
}
