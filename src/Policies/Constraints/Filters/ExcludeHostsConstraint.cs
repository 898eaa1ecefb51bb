using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Constraints.Filters;

/// <summary>Policy filter: never these hosts. Per host by name, so it is not memoised per class.</summary>
public sealed class ExcludeHostsConstraint(ExcludeHostsFilter filter) : IDynamicConstraint
{
    public string Id => filter.Id;
    public bool AppliesTo(GuestDemand d) => true;
    public bool Admits(GuestDemand d, int h, PlacementState s) => !filter.Hosts.Contains(s.Hosts[h].Name);
    public string Explain(GuestDemand d, int h, PlacementState s) => $"policy excludes host {s.Hosts[h].Name}";
}
