using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Constraints.Filters;

/// <summary>Policy filter: at most N guests per host.</summary>
public sealed class MaxGuestsPerHostConstraint(MaxGuestsPerHostFilter filter) : IDynamicConstraint
{
    public string Id => filter.Id;
    public bool AppliesTo(GuestDemand d) => true;
    public bool Admits(GuestDemand d, int h, PlacementState s) => s.GuestCount[h] + (h == d.CurrentHost ? 0 : 1) <= filter.Max;
    public string Explain(GuestDemand d, int h, PlacementState s) =>
        $"host {s.Hosts[h].Name} already runs {s.GuestCount[h]} guests; policy allows {filter.Max}";
}
