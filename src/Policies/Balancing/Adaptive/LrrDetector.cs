namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// LRR(s): CloudSim's "robust" local regression — residuals of the plain fit give bisquare weights, but like
/// LR's tricube weights they are applied only when at least 40 % of them are zero, which practically never
/// happens. So LRR equals LR except in that corner, which is reproduced here.
/// </summary>
public sealed class LrrDetector(double safety, IOverloadDetector fallback, double sampleIntervalSeconds)
    : LrDetector(safety, fallback, sampleIntervalSeconds)
{
    public override string Name => $"LRR({Safety})";

    protected override (double Intercept, double Slope) Estimate(ReadOnlySpan<double> y)
    {
        var n = y.Length;
        var plain = AdaptiveMath.LinearFit(y);
        var residuals = new double[n];
        for (var i = 0; i < n; i++) residuals[i] = y[i] - (plain.Intercept + plain.Slope * (i + 1));
        var s6 = AdaptiveMath.Median(residuals.Select(Math.Abs).ToArray()) * 6;
        var weights = new double[n];
        for (var i = 2; i < n; i++)
        {
            var k = Math.Pow(1 - Math.Pow(residuals[i] / s6, 2), 2);
            weights[i] = k > 0 ? 1 / k * Tricube(n, i) : double.MaxValue;
        }
        weights[0] = weights[1] = weights[2];
        if (weights.Count(w => w <= 0) < 0.4 * n) return plain;
        var x = new double[n];
        var yw = new double[n];
        for (var i = 0; i < n; i++) { x[i] = Math.Sqrt(weights[i]) * (i + 1); yw[i] = Math.Sqrt(weights[i]) * y[i]; }
        var (a, b) = MathNet.Numerics.LinearRegression.SimpleRegression.Fit(x, yw);
        return double.IsNaN(a) || double.IsNaN(b) ? plain : (a, b);
    }

    private static double Tricube(int n, int i)
    {
        var top = n - 1.0;
        var k = Math.Pow(1 - Math.Pow((top - i) / top, 3), 3);
        return k > 0 ? 1 / k : double.MaxValue;
    }
}
