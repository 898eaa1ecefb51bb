namespace KvmCluster.Grains.Hosts;

public sealed class HostGrainOptions
{
    /// <summary>How often a host re-reads its hypervisor and pushes a report to the scheduler.</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(10);
}
