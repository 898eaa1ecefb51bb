using MathNet.Numerics.Statistics;

namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>The statistics the detectors use, with CloudSim's definitions where they differ from textbook ones.</summary>
public static class AdaptiveMath
{
    /// <summary>Median as commons-math's Percentile(50) computes it (position p(n+1), R type 6).</summary>
    public static double Median(double[] data) =>
        data.Length == 0 ? double.NaN : data.QuantileCustom(0.5, QuantileDefinition.R6);

    /// <summary>CloudSim's IQR: quartiles at sorted positions round(0.25(n+1))−1 and round(0.75(n+1))−1.</summary>
    public static double Iqr(double[] data)
    {
        var sorted = (double[])data.Clone();
        Array.Sort(sorted);
        var q1 = (int)Math.Round(0.25 * (sorted.Length + 1), MidpointRounding.AwayFromZero) - 1;
        var q3 = (int)Math.Round(0.75 * (sorted.Length + 1), MidpointRounding.AwayFromZero) - 1;
        return sorted[q3] - sorted[q1];
    }

    /// <summary>Median absolute deviation from the median.</summary>
    public static double Mad(double[] data)
    {
        if (data.Length == 0) return 0;
        var median = Median(data);
        var deviations = new double[data.Length];
        for (var i = 0; i < data.Length; i++) deviations[i] = Math.Abs(median - data[i]);
        return Median(deviations);
    }

    /// <summary>
    /// Ordinary least squares of y on x = 1..n: (intercept, slope), by the two-pass means-then-moments
    /// method (the arithmetic of MathNet's SimpleRegression, without its allocations; a test pins the equality).
    /// </summary>
    public static (double Intercept, double Slope) LinearFit(ReadOnlySpan<double> y)
    {
        var n = y.Length;
        double mx = 0, my = 0;
        for (var i = 0; i < n; i++) { mx += i + 1; my += y[i]; }
        mx /= n;
        my /= n;
        double covariance = 0, variance = 0;
        for (var i = 0; i < n; i++)
        {
            var diff = i + 1 - mx;
            covariance += diff * (y[i] - my);
            variance += diff * diff;
        }
        var b = covariance / variance;
        return (my - b * mx, b);
    }
}
