using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// vCPUs and general memory fit within the host's capacity times the policy's over-commit ratios,
/// counting guests already running and pending reservations.
/// </summary>
public sealed class CapacityConstraint : IDynamicConstraint
{
    public static readonly CapacityConstraint Instance = new();
    public string Id => "capacity";

    public bool AppliesTo(GuestDemand demand) => true;

    public bool Admits(GuestDemand d, int h, PlacementState s) =>
        s.VcpuUsed[h] + d.VCpus <= s.VcpuCapacity[h] + 1e-9 &&
        s.MemoryUsed[h] + d.GeneralMemoryMiB <= s.MemoryCapacity[h] + 1e-9;

    public int Filter(GuestDemand d, int[] hosts, int count, PlacementState s)
    {
        var used = s.VcpuUsed; var cap = s.VcpuCapacity; var mem = s.MemoryUsed; var memCap = s.MemoryCapacity;
        long v = d.VCpus, m = d.GeneralMemoryMiB;
        var kept = 0;
        for (var i = 0; i < count; i++)
        {
            var h = hosts[i];
            if (used[h] + v <= cap[h] + 1e-9 && mem[h] + m <= memCap[h] + 1e-9) hosts[kept++] = h;
        }
        return kept;
    }

    public string Explain(GuestDemand d, int h, PlacementState s)
    {
        var host = s.Hosts[h];
        var parts = new List<string>(2);
        if (s.VcpuUsed[h] + d.VCpus > s.VcpuCapacity[h] + 1e-9)
            parts.Add($"guest needs {d.VCpus} vCPU, host {host.Name} has {Math.Max(0, s.VcpuCapacity[h] - s.VcpuUsed[h]):0.##} of {s.VcpuCapacity[h]:0.##} free " +
                      $"({host.Cpu.Threads} threads × over-commit {s.Policy.Overcommit.Cpu:0.##}, {s.VcpuReserved[h]} reserved)");
        if (s.MemoryUsed[h] + d.GeneralMemoryMiB > s.MemoryCapacity[h] + 1e-9)
            parts.Add($"guest needs {d.GeneralMemoryMiB} MiB, host {host.Name} has {Math.Max(0, s.MemoryCapacity[h] - s.MemoryUsed[h]):0} of {s.MemoryCapacity[h]:0} MiB free " +
                      $"(general memory {host.GeneralMemoryMiB} MiB × over-commit {s.Policy.Overcommit.Memory:0.##}, {s.MemoryReserved[h]} MiB reserved)");
        return string.Join("; ", parts);
    }
}
