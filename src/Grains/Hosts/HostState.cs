using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Hosts;

/// <summary>
/// What a host keeps across silo restarts: maintenance, the labels operators set, and every guest's usage history
/// (as many samples as the active policy reads), so a restart forgets no time window.
/// </summary>
[GenerateSerializer, Alias("kvm.HostState")]
public sealed class HostState
{
    [Id(0)] public bool Maintenance { get; set; }
    /// <summary>Labels set through the API (they win over the settings' labels).</summary>
    [Id(1)] public Dictionary<string, string> Labels { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Settings labels removed through the API.</summary>
    [Id(2)] public List<string> RemovedLabels { get; set; } = [];
    [Id(3)] public Dictionary<string, UsageHistory> Usage { get; set; } = new(StringComparer.Ordinal);
    /// <summary>The host's CPU use at each sample (the sum of its guests'), oldest first.</summary>
    [Id(4)] public List<double> CpuHistoryMhz { get; set; } = [];
    [Id(5)] public DateTimeOffset? SampledAt { get; set; }
}
