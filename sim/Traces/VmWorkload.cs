namespace KvmCluster.Sim.Traces;

/// <summary>
/// One VM's load: CPU utilisation samples (fraction of the VM's capacity) at a fixed interval, optionally
/// memory samples, and when it arrives and leaves. Between samples the utilisation is interpolated the way
/// CloudSim's UtilizationModelPlanetLabInMemory does; after the last sample it stays at the last value.
/// </summary>
public sealed class VmWorkload
{
    public string Name { get; }
    public double Interval { get; }
    public double Arrival { get; init; }
    public double Departure { get; init; } = double.PositiveInfinity;
    /// <summary>Capacity hints from the trace (Bitbrains, CSV): cores, MHz, memory; null where unknown.</summary>
    public int? Cores { get; init; }
    public double? CapacityMhz { get; init; }
    public double? MemoryMiB { get; init; }
    public double[]? MemoryUsageMiB { get; init; }

    private readonly double[] _data; // samples plus a copy of the last one, as CloudSim's 289-entry array

    public VmWorkload(string name, double[] samples, double interval)
    {
        if (samples.Length == 0) throw new ArgumentException($"workload {name} has no samples");
        Name = name;
        Interval = interval;
        _data = new double[samples.Length + 1];
        Array.Copy(samples, _data, samples.Length);
        _data[^1] = samples[^1];
    }

    public int Samples => _data.Length - 1;
    public double Sample(int i) => _data[Math.Clamp(i, 0, _data.Length - 1)];
    public double Duration => Samples * Interval;

    /// <summary>Utilisation at <paramref name="time"/> seconds (CloudSim's interpolation, bit for bit).</summary>
    public double UtilizationAt(double time)
    {
        if (time % Interval == 0) return Sample((int)time / (int)Interval);
        var t1 = (int)Math.Floor(time / Interval);
        var t2 = (int)Math.Ceiling(time / Interval);
        var u1 = Sample(t1);
        var u2 = Sample(t2);
        var delta = (u2 - u1) / ((t2 - t1) * Interval);
        return u1 + delta * (time - t1 * Interval);
    }
}
