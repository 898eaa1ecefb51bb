using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Scoring;

/// <summary>Least-allocated: prefers the host left with the most free vCPU and memory (Nova ram/cpu weighers, k8s LeastAllocated).</summary>
public sealed class SpreadScorer : IScorer
{
    public static readonly SpreadScorer Instance = new();
    public string Id => "spread";

    public double Score(GuestDemand d, int h, PlacementState s) => 1 - Allocation.After(d, h, s);
}

/// <summary>Most-allocated: prefers the fullest host that still fits, leaving whole hosts empty (k8s MostAllocated).</summary>
public sealed class PackScorer : IScorer
{
    public static readonly PackScorer Instance = new();
    public string Id => "pack";

    public double Score(GuestDemand d, int h, PlacementState s) => Allocation.After(d, h, s);
}

internal static class Allocation
{
    /// <summary>Mean of vCPU and memory allocation on host h once the guest is there, clamped to 0..1.</summary>
    public static double After(GuestDemand d, int h, PlacementState s)
    {
        var here = h == d.CurrentHost;
        var cpu = (s.VcpuUsed[h] + (here ? 0 : d.VCpus)) / Math.Max(1e-9, s.VcpuCapacity[h]);
        var mem = (s.MemoryUsed[h] + (here ? 0 : d.GeneralMemoryMiB)) / Math.Max(1e-9, s.MemoryCapacity[h]);
        return Math.Clamp((cpu + mem) / 2, 0, 1);
    }
}
