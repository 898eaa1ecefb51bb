namespace KvmCluster.Sim.Traces;

/// <summary>
/// One VM's load: CPU utilisation samples (fraction of the VM's capacity) at a fixed interval, when it arrives
/// and leaves, and what the trace says about its size. Between samples the utilisation is interpolated the way
/// CloudSim's UtilizationModelPlanetLabInMemory does; past the last sample it stays at the last value.
/// </summary>
public abstract class VmWorkload(string name, double interval)
{
    public string Name { get; } = name;
    public double Interval { get; } = interval;
    /// <summary>Seconds after the start of the trace when the VM appears.</summary>
    public double Arrival { get; init; }
    /// <summary>Seconds after the start of the trace of sample 0 (by default the arrival).</summary>
    public double SampleStart { get => _sampleStart ?? Arrival; init => _sampleStart = value; }
    private readonly double? _sampleStart;
    /// <summary>Seconds after the start of the trace when the VM leaves; infinity when it stays.</summary>
    public double Departure { get; init; } = double.PositiveInfinity;
    /// <summary>Size from the trace (Bitbrains, CSV); null means "use the datacenter's VM types".</summary>
    public int? Cores { get; init; }
    public double? CapacityMhz { get; init; }
    public int? MemoryMiB { get; init; }
    /// <summary>A VM type named by the trace (CSV), or null.</summary>
    public string? Type { get; init; }

    /// <summary>The samples plus a copy of the last one, for workloads held in memory (else null).</summary>
    protected double[]? Data { get; init; }

    /// <summary>Number of samples; sample i covers [Arrival + i·Interval, Arrival + (i+1)·Interval).</summary>
    public abstract int Samples { get; }

    /// <summary>Sample i as a fraction 0..1; indexes past the end give the last sample.</summary>
    public abstract double Sample(int i);

    public double Duration => Samples * Interval;

    /// <summary>Utilisation at <paramref name="time"/> seconds of the VM's own clock (CloudSim's interpolation, bit for bit).</summary>
    public double UtilizationAt(double time) => UtilizationAt(time, SamplePosition.Of(time, Interval));

    /// <summary>The same, with where <paramref name="time"/> falls between samples worked out beforehand.</summary>
    public double UtilizationAt(double time, in SamplePosition p)
    {
        var data = Data;
        if (data is not null)
        {
            // Sampled workloads: the same lookups as Sample(), without a virtual call per lookup.
            var last = data.Length - 1;
            if (p.OnSample) return data[p.Index < 0 ? 0 : p.Index > last ? last : p.Index];
            var a = data[p.T1 < 0 ? 0 : p.T1 > last ? last : p.T1];
            var b = data[p.T2 < 0 ? 0 : p.T2 > last ? last : p.T2];
            return a + (b - a) / ((p.T2 - p.T1) * Interval) * (time - p.T1 * Interval);
        }
        if (p.OnSample) return Sample(p.Index);
        var u1 = Sample(p.T1);
        var u2 = Sample(p.T2);
        var delta = (u2 - u1) / ((p.T2 - p.T1) * Interval);
        return u1 + delta * (time - p.T1 * Interval);
    }
}

/// <summary>A workload held as an array of samples (PlanetLab, Bitbrains, CSV).</summary>
public sealed class SampledWorkload : VmWorkload
{
    private readonly double[] _data; // samples plus a copy of the last one, as CloudSim's 289-entry array

    public SampledWorkload(string name, ReadOnlySpan<double> samples, double interval) : base(name, interval)
    {
        if (samples.Length == 0) throw new ArgumentException($"workload {name} has no samples");
        _data = new double[samples.Length + 1];
        samples.CopyTo(_data);
        _data[^1] = samples[^1];
        Data = _data;
    }

    public override int Samples => _data.Length - 1;
    public override double Sample(int i) => _data[i < 0 ? 0 : i >= _data.Length ? _data.Length - 1 : i];
}

/// <summary>
/// Where an instant falls between samples, as CloudSim's PlanetLab model works it out (the remainder is the
/// expensive part). Every VM is asked about the same instant in turn, so it is computed once and shared.
/// </summary>
public readonly record struct SamplePosition(double Time, double Interval, bool OnSample, int Index, int T1, int T2)
{
    public static SamplePosition Of(double time, double interval) => time % interval == 0
        ? new SamplePosition(time, interval, true, (int)time / (int)interval, 0, 0)
        : new SamplePosition(time, interval, false, 0, (int)Math.Floor(time / interval), (int)Math.Ceiling(time / interval));
}
