using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Scoring;

/// <summary>Least-allocated: prefers the host left with the most free vCPU and memory (Nova ram/cpu weighers, k8s LeastAllocated).</summary>
public sealed class SpreadScorer : IScorer
{
    public static readonly SpreadScorer Instance = new();
    public string Id => "spread";

    public double Score(GuestDemand d, int h, PlacementState s) => 1 - Allocation.After(d, h, s);

    public void Accumulate(GuestDemand d, int[] hosts, int count, double[] totals, double weight, PlacementState s) =>
        Allocation.AccumulateAfter(d, hosts, count, totals, weight, s, invert: true);
}

/// <summary>Most-allocated: prefers the fullest host that still fits, leaving whole hosts empty (k8s MostAllocated).</summary>
public sealed class PackScorer : IScorer
{
    public static readonly PackScorer Instance = new();
    public string Id => "pack";

    public double Score(GuestDemand d, int h, PlacementState s) => Allocation.After(d, h, s);

    public void Accumulate(GuestDemand d, int[] hosts, int count, double[] totals, double weight, PlacementState s) =>
        Allocation.AccumulateAfter(d, hosts, count, totals, weight, s, invert: false);
}

internal static class Allocation
{
    /// <summary>Mean of vCPU and memory allocation on host h once the guest is there, clamped to 0..1.</summary>
    public static double After(GuestDemand d, int h, PlacementState s)
    {
        var here = h == d.CurrentHost;
        var cpu = (s.VcpuUsed[h] + (here ? 0 : d.VCpus)) * s.InverseVcpuCapacity[h];
        var mem = (s.MemoryUsed[h] + (here ? 0 : d.GeneralMemoryMiB)) * s.InverseMemoryCapacity[h];
        var a = 0.5 * (cpu + mem);
        return a < 0 ? 0 : a > 1 ? 1 : a;
    }

    /// <summary>The batch form of <see cref="After"/> (same arithmetic), with the arrays held in locals for the JIT.</summary>
    public static void AccumulateAfter(GuestDemand d, int[] hosts, int count, double[] totals, double weight, PlacementState s, bool invert)
    {
        var vcpu = s.VcpuUsed; var mem = s.MemoryUsed; var invV = s.InverseVcpuCapacity; var invM = s.InverseMemoryCapacity;
        long dv = d.VCpus, dm = d.GeneralMemoryMiB;
        var current = d.CurrentHost;
        for (var i = 0; i < count; i++)
        {
            var h = hosts[i];
            var here = h == current;
            var a = 0.5 * ((vcpu[h] + (here ? 0 : dv)) * invV[h] + (mem[h] + (here ? 0 : dm)) * invM[h]);
            a = a < 0 ? 0 : a > 1 ? 1 : a;
            totals[i] += weight * (invert ? 1 - a : a);
        }
    }
}
