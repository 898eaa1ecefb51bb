using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>QEMU/libvirt need guest names unique per host: no guest of the same name may run (or be due) there.</summary>
public sealed class NameClashConstraint : IDynamicConstraint
{
    public static readonly NameClashConstraint Instance = new();
    public string Id => "name-clash";

    public bool AppliesTo(GuestDemand d) => d.SameNameHosts.Count > 0;

    public bool Admits(GuestDemand d, int h, PlacementState s) => !d.SameNameHosts.Contains(h);

    public string Explain(GuestDemand d, int h, PlacementState s) =>
        $"a guest named {d.Guest.Name} already runs on (or is reserved for) host {s.Hosts[h].Name}";
}
