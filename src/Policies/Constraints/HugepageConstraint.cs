using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// A hugepage-backed guest needs a pool of its page size with enough pages that are free and not already
/// promised (kernel HugePages_Rsvd and pending placements). Without them QEMU exits at start with
/// "unable to map backing store for guest RAM".
/// </summary>
public sealed class HugepageConstraint : IStaticConstraint, IDynamicConstraint
{
    public static readonly HugepageConstraint Instance = new();
    public string Id => "hugepages";

    public string? Check(in StaticInput x)
    {
        if (x.Guest.HugepageSizeKiB is not { } size) return null;
        return x.Host.Pool(size) is null
            ? $"guest needs {HugepagePool.DescribeSize(size)} hugepages, {StaticInput.HostToken} has no such pool"
            : null;
    }

    public bool AppliesTo(GuestDemand d) => d.HugepageSizeIndex >= 0 || d.Guest.HugepageSizeKiB is not null;

    public bool Admits(GuestDemand d, int h, PlacementState s) =>
        d.HugepageSizeIndex >= 0 && s.HugepagesAvailable[d.HugepageSizeIndex][h] >= d.HugepageCount;

    public int Filter(GuestDemand d, int[] hosts, int count, PlacementState s)
    {
        if (d.HugepageSizeIndex < 0) return 0;
        var free = s.HugepagesAvailable[d.HugepageSizeIndex];
        var need = d.HugepageCount;
        var kept = 0;
        for (var i = 0; i < count; i++)
            if (free[hosts[i]] >= need) hosts[kept++] = hosts[i];
        return kept;
    }

    public string Explain(GuestDemand d, int h, PlacementState s)
    {
        var host = s.Hosts[h];
        var size = d.Guest.HugepageSizeKiB!.Value;
        var pool = host.Pool(size);
        if (pool is null || d.HugepageSizeIndex < 0)
            return $"guest needs {d.HugepageCount} × {HugepagePool.DescribeSize(size)}, host {host.Name} has no such pool";
        var reserved = pool.Reserved + s.HugepagesReserved[d.HugepageSizeIndex][h];
        var free = s.HugepagesAvailable[d.HugepageSizeIndex][h] + reserved;
        return $"guest needs {d.HugepageCount} × {HugepagePool.DescribeSize(size)}, host {host.Name} has {free} free ({reserved} reserved)";
    }
}
