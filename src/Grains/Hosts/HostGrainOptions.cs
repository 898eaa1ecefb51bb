namespace KvmCluster.Grains.Hosts;

public sealed class HostGrainOptions
{
    /// <summary>How often a host re-reads its hypervisor and pushes a report to the scheduler.</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Real time between two usage samples (zero: only when asked, as kvmsim's replays do). Normally
    /// <see cref="SampleSeconds"/>; a simulated fleet running faster than real time divides it by its time scale.
    /// </summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>Fleet time one sample stands for (the snapshots' sample interval): 300 s, as CloudSim and PlanetLab.</summary>
    public double SampleSeconds { get; set; } = 300;
    /// <summary>Labels of this silo's hosts from its settings (KvmCluster:Labels); the API adds and removes more.</summary>
    public Dictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
}
