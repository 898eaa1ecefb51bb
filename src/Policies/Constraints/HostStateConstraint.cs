using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>Only powered-on hosts outside maintenance take guests.</summary>
public sealed class HostStateConstraint : IDynamicConstraint
{
    public static readonly HostStateConstraint Instance = new();
    public string Id => "host-state";

    public bool AppliesTo(GuestDemand d) => true;

    public bool Admits(GuestDemand d, int h, PlacementState s) => s.Accepts(h);

    public int Filter(GuestDemand d, int[] hosts, int count, PlacementState s)
    {
        var accepts = s.AcceptsArray;
        var kept = 0;
        for (var i = 0; i < count; i++)
        {
            var h = hosts[i];
            if (accepts[h]) hosts[kept++] = h;
        }
        return kept;
    }

    public string Explain(GuestDemand d, int h, PlacementState s)
    {
        var host = s.Hosts[h];
        if (host.AcceptsGuests) return $"host {host.Name} is held out of placement by the plan";
        return host.Maintenance ? $"host {host.Name} is in maintenance" : $"host {host.Name} is {host.Power.ToString().ToLowerInvariant()}";
    }
}
