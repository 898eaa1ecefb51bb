namespace KvmCluster.Sim.Traces;

/// <summary>A loaded trace: its VMs' workloads, the sampling interval, and how long it lasts.</summary>
public sealed record Trace(string Name, IReadOnlyList<VmWorkload> Workloads, double Interval)
{
    /// <summary>Seconds from the start to the last sample or departure (PlanetLab: 288 × 300 = 86,400).</summary>
    public double Duration
    {
        get
        {
            var end = 0.0;
            foreach (var w in Workloads)
                end = Math.Max(end, Math.Min(w.Departure, w.SampleStart + w.Duration));
            return end;
        }
    }
}
