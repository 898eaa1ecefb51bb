using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Constraints.Filters;

/// <summary>Policy filter: skip hosts whose CPU use, with the guest added, would exceed a percentage (oVirt CPUOverloaded).</summary>
public sealed class MaxHostCpuConstraint(MaxHostCpuFilter filter) : IDynamicConstraint
{
    public string Id => filter.Id;
    public bool AppliesTo(GuestDemand d) => true;

    public bool Admits(GuestDemand d, int h, PlacementState s) =>
        (s.CpuUsedMhz[h] + (h == d.CurrentHost ? 0 : d.CpuMhzOn(h, s))) <= s.CpuCapacityMhz[h] * filter.Percent / 100 + 1e-9;

    public string Explain(GuestDemand d, int h, PlacementState s) =>
        $"host {s.Hosts[h].Name} would use {100 * (s.CpuUsedMhz[h] + d.CpuMhzOn(h, s)) / s.CpuCapacityMhz[h]:0.#}% CPU with the guest; policy allows {filter.Percent:0.#}%";
}
