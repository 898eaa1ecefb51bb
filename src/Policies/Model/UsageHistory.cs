using System.Collections.Immutable;

namespace KvmCluster.Policies.Model;

/// <summary>
/// Recent measurements of one guest, oldest first, one sample per snapshot interval:
/// CPU demand in MHz, resident memory in MiB and the memory dirty rate in MiB/s.
/// </summary>
public sealed record UsageHistory(ImmutableArray<double> CpuMhz, ImmutableArray<double> MemoryMiB, ImmutableArray<double> DirtyMiBps)
{
    public static readonly UsageHistory Empty = new([], [], []);

    public double LastCpuMhz => CpuMhz.IsDefaultOrEmpty ? 0 : CpuMhz[^1];
    public double LastMemoryMiB => MemoryMiB.IsDefaultOrEmpty ? 0 : MemoryMiB[^1];
    public double LastDirtyMiBps => DirtyMiBps.IsDefaultOrEmpty ? 0 : DirtyMiBps[^1];
}
