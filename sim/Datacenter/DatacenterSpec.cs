using KvmCluster.Policies.Model;

namespace KvmCluster.Sim.Datacenter;

/// <summary>
/// A kind of host: PEs (hardware threads) × MIPS per PE (MHz), RAM, network bandwidth (kbit/s, as CloudSim),
/// power table (with standby watts and boot time), and what the planner's constraints look at: QEMU CPU
/// models and 2 MiB hugepages.
/// </summary>
public sealed record HostType(string Name, int Pes, double MipsPerPe, int RamMiB, long BwKbps, PowerModel Power, int Count)
{
    public IReadOnlyList<string> CpuModels { get; init; } = [];
    public int Hugepages2M { get; init; }
}

/// <summary>A kind of VM: MIPS per PE, PEs, RAM, bandwidth (kbit/s), and optionally a CPU model and hugepage backing.</summary>
public sealed record VmType(string Name, double Mips, int Pes, int RamMiB, long BwKbps)
{
    public string? CpuModel { get; init; }
    /// <summary>Memory backed by 2 MiB hugepages (memory / 2 MiB pages; such a guest cannot be ballooned).</summary>
    public bool Hugepages { get; init; }
}

public enum VmTypeAssignment
{
    /// <summary>CloudSim's rule: VM i gets type i / ceil(n / types), so types come in contiguous blocks of trace order.</summary>
    Blocks,
    /// <summary>VM i gets type i mod types.</summary>
    RoundRobin,
}

/// <summary>The simulated datacenter: host types (interleaved by index, as CloudSim) and VM types.</summary>
public sealed record DatacenterSpec(string Name, IReadOnlyList<HostType> HostTypes, IReadOnlyList<VmType> VmTypes, VmTypeAssignment Assignment)
{
    public int HostCount => HostTypes.Sum(t => t.Count);

    /// <summary>Host i's type: round-robin over the types that still have hosts left (CloudSim: i mod 2).</summary>
    public IEnumerable<HostType> Hosts()
    {
        var left = HostTypes.Select(t => t.Count).ToArray();
        var total = left.Sum();
        var k = 0;
        for (var produced = 0; produced < total; k++)
        {
            var t = k % HostTypes.Count;
            if (left[t] == 0) continue;
            left[t]--;
            produced++;
            yield return HostTypes[t];
        }
    }

    public VmType VmTypeFor(int index, int vmCount) => Assignment switch
    {
        VmTypeAssignment.Blocks => VmTypes[index / (int)Math.Ceiling((double)vmCount / VmTypes.Count)],
        _ => VmTypes[index % VmTypes.Count],
    };

    /// <summary>
    /// CloudSim 4.0's PlanetLab experiment: HP ProLiant ML110 G4 and G5 hosts (2 PEs, 4 GiB, 1 Gbit/s),
    /// alternating, and its four VM types (High-CPU Medium, Extra Large, Small, Micro with RAM halved).
    /// </summary>
    public static DatacenterSpec CloudSimPlanetLab(int hosts = 800)
    {
        var g4 = (hosts + 1) / 2;
        return new DatacenterSpec($"cloudsim-planetlab:hosts={hosts}",
        [
            new HostType("HP ProLiant ML110 G4", 2, 1860, 4096, 1_000_000, PowerModel.HpMl110G4, g4),
            new HostType("HP ProLiant ML110 G5", 2, 2660, 4096, 1_000_000, PowerModel.HpMl110G5, hosts - g4),
        ],
        [
            new VmType("High-CPU Medium", 2500, 1, 870, 100_000),
            new VmType("Extra Large", 2000, 1, 1740, 100_000),
            new VmType("Small", 1000, 1, 1740, 100_000),
            new VmType("Micro", 500, 1, 613, 100_000),
        ], VmTypeAssignment.Blocks);
    }
}
