using System.Collections.Immutable;
using KvmCluster.Policies.Model;
using MathNet.Numerics.Distributions;

namespace KvmCluster.Sim.Synthetic;

/// <summary>
/// Seeded CPU usage histories with a daily rhythm: each guest has a log-normal base load, a diurnal swing
/// whose phase depends on its "time zone", and noise. Samples are MHz, oldest first.
/// </summary>
public static class SyntheticUsage
{
    public static double[] Series(Guest g, int samples, double sampleSeconds, int startSample, Random random)
    {
        var capacity = g.VCpus * 2500.0;
        var baseLoad = Math.Min(0.9, LogNormal.Sample(random, Math.Log(0.2), 0.6));
        var swing = 0.5 * random.NextDouble();
        var phase = random.NextDouble() * 2 * Math.PI;
        var series = new double[samples];
        for (var i = 0; i < samples; i++)
        {
            var t = (startSample + i) * sampleSeconds / 86400 * 2 * Math.PI;
            var u = baseLoad * (1 + swing * Math.Sin(t + phase)) + Normal.Sample(random, 0, 0.03);
            series[i] = Math.Round(Math.Clamp(u, 0, 1) * capacity);
        }
        return series;
    }

    public static UsageHistory Window(double[] series, int end, int length) =>
        new([.. series.AsSpan(Math.Max(0, end - length), Math.Min(length, end)).ToArray()], [], []);
}
