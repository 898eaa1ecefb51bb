using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>Only powered-on hosts outside maintenance take guests.</summary>
public sealed class HostStateConstraint : IDynamicConstraint
{
    public static readonly HostStateConstraint Instance = new();
    public string Id => "host-state";

    public bool AppliesTo(GuestDemand d) => true;

    public bool Admits(GuestDemand d, int h, PlacementState s) => s.Hosts[h].AcceptsGuests;

    public string Explain(GuestDemand d, int h, PlacementState s)
    {
        var host = s.Hosts[h];
        return host.Maintenance ? $"host {host.Name} is in maintenance" : $"host {host.Name} is {host.Power.ToString().ToLowerInvariant()}";
    }
}
