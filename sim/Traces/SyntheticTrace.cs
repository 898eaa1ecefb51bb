using MathNet.Numerics.Distributions;

namespace KvmCluster.Sim.Traces;

/// <summary>
/// A seeded synthetic trace with a realistic daily rhythm, for scale tests and what-ifs:
/// <c>synthetic:vms=N,days=D,seed=S</c>. Each VM draws (MathNet distributions, from one seeded generator):
/// a log-normal base load (median 12 %), a diurnal swing peaking in its "office hours" (phase spread by
/// time zone), a weekend dip for two thirds of the VMs (the "office" ones), Gaussian noise, and rare bursts.
/// The VMs are small, one vCPU of 500, 1000 or 1500 MHz with 128, 256 or 512 MiB, so that ten of them share
/// a 4 GiB CloudSim-preset host as in the scale test (100,000 VMs on 10,000 hosts).
/// Samples are computed on demand from the VM's parameters and a counter-based hash, so a week of 100,000
/// VMs takes a few MB, and the same seed always gives the same trace.
/// </summary>
public static class SyntheticTrace
{
    public const double Interval = 300;

    public static Trace Create(int vms, double days, long seed)
    {
        if (vms < 1) throw new ArgumentOutOfRangeException(nameof(vms));
        var random = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        var baseLoad = new LogNormal(Math.Log(0.12), 0.8, random);
        var swing = new Beta(2, 3, random);
        var zone = new Normal(0, 2.5, random);
        int[] memorySizes = [128, 256, 512];
        var memory = new Categorical([0.3, 0.5, 0.2], random);
        double[] cpuSizes = [500, 1000, 1500];
        var cpu = new Categorical([0.4, 0.4, 0.2], random);
        var samples = (int)Math.Ceiling(days * 86_400 / Interval);
        var workloads = new VmWorkload[vms];
        for (var i = 0; i < vms; i++)
        {
            var b = Math.Min(0.85, baseLoad.Sample());
            var peak = 14 + zone.Sample();
            workloads[i] = new SyntheticWorkload($"vm-{i:D6}", samples, seed, i)
            {
                Base = b,
                Swing = swing.Sample() * 0.8,
                PeakHour = peak,
                PeakHourAngleCos = Math.Cos(peak / 24 * 2 * Math.PI),
                PeakHourAngleSin = Math.Sin(peak / 24 * 2 * Math.PI),
                Office = random.NextDouble() < 2.0 / 3,
                Noise = 0.02 + 0.05 * random.NextDouble(),
                MemoryMiB = memorySizes[memory.Sample()],
                Cores = 1,
                CapacityMhz = cpuSizes[cpu.Sample()],
            };
        }
        return new Trace($"synthetic:vms={vms},days={days},seed={seed}", workloads, Interval);
    }
}

/// <summary>One synthetic VM: parameters plus a hash of (seed, vm, sample) for the noise and the bursts.</summary>
public sealed class SyntheticWorkload(string name, int samples, long seed, int index) : VmWorkload(name, SyntheticTrace.Interval)
{
    public double Base { get; init; }
    public double Swing { get; init; }
    public double PeakHour { get; init; }
    public bool Office { get; init; }
    public double Noise { get; init; }

    public override int Samples => samples;

    // The simulator asks for the same two samples many times while time moves between them.
    private int _cachedIndex = -1, _cachedIndex2 = -1;
    private double _cached, _cached2;

    public override double Sample(int i)
    {
        if (i < 0) i = 0;
        if (i >= samples) i = samples - 1;
        if (i == _cachedIndex) return _cached;
        if (i == _cachedIndex2) return _cached2;
        var value = Compute(i);
        (_cachedIndex2, _cached2) = (_cachedIndex, _cached);
        (_cachedIndex, _cached) = (i, value);
        return value;
    }

    // cos((h − peak)·2π/24) = cos(h·2π/24)·cos(peak·2π/24) + sin(h·2π/24)·sin(peak·2π/24): the VM's half is
    // computed once, the hour's half comes from a table shared by all VMs (one entry per 5-minute sample of a day).
    private readonly double _cosPeak = Math.Cos(0), _sinPeak;
    private static readonly double[] CosOfSample = Enumerable.Range(0, 288).Select(k => Math.Cos(k / 288.0 * 2 * Math.PI)).ToArray();
    private static readonly double[] SinOfSample = Enumerable.Range(0, 288).Select(k => Math.Sin(k / 288.0 * 2 * Math.PI)).ToArray();
    // Standard-normal quantiles (MathNet) at 4096 evenly spaced probabilities: noise by table lookup.
    private static readonly double[] NormalQuantiles = Enumerable.Range(0, 4096).Select(k => Normal.InvCDF(0, 1, (k + 0.5) / 4096)).ToArray();

    public double PeakHourAngleCos { init => _cosPeak = value; }
    public double PeakHourAngleSin { init => _sinPeak = value; }

    private double Compute(int i)
    {
        var day = i / 288 % 7;
        var k = i % 288;
        var level = Base * (1 + Swing * (CosOfSample[k] * _cosPeak + SinOfSample[k] * _sinPeak));
        if (Office && day >= 5) level *= 0.55;
        var h1 = Hash(seed, index, i, 1);
        var u2 = Uniform01(Hash(seed, index, i, 2));
        level += Noise * NormalQuantiles[(int)(h1 >> 52)];
        if (u2 < 0.004) level = Math.Max(level, 0.7 + 0.3 * u2 / 0.004); // a burst: batch job, backup, deploy
        // Whole percent, like the PlanetLab and Bitbrains monitors report.
        return Math.Round(Math.Clamp(level, 0.01, 1) * 100) / 100;
    }

    private static ulong Hash(long seed, int vm, int sample, int stream)
    {
        // SplitMix64 over the counter: independent, reproducible values for any (vm, sample) in O(1).
        var z = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + ((ulong)(uint)vm << 32 | (uint)sample) + (ulong)stream * 0xD1B54A32D192ED03UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static double Uniform01(ulong h) => ((h >> 11) + 0.5) / (1UL << 53);
}
