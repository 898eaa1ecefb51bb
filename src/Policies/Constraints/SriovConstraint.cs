using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>SR-IOV: the host needs enough free virtual functions on the requested network.</summary>
public sealed class SriovConstraint : IStaticConstraint, IDynamicConstraint
{
    public static readonly SriovConstraint Instance = new();
    public string Id => "sriov";

    public string? Check(in StaticInput x)
    {
        var g = x.Guest;
        if (g.SriovVfs == 0) return null;
        var net = g.SriovNetwork;
        return x.Host.Sriov.Any(f => net is null || f.Network == net)
            ? null
            : $"{StaticInput.HostToken} has no SR-IOV physical function{(net is null ? "" : $" on network {net}")}";
    }

    public bool AppliesTo(GuestDemand d) => d.Guest.SriovVfs > 0;

    public bool Admits(GuestDemand d, int h, PlacementState s) => s.FreeVfs(h, d.Guest.SriovNetwork) >= d.Guest.SriovVfs;

    public string Explain(GuestDemand d, int h, PlacementState s) =>
        $"guest needs {d.Guest.SriovVfs} VF(s){(d.Guest.SriovNetwork is { } n ? $" on {n}" : "")}, host {s.Hosts[h].Name} has {s.FreeVfs(h, d.Guest.SriovNetwork)} free";
}
