using KvmCluster.Policies.Constraints.Filters;
using KvmCluster.Policies.Policy;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// The checks a policy runs: the mandatory KVM constraints, always, followed by the policy's extra filters.
/// There is deliberately no way to drop a mandatory one (oVirt's mandatory policy units).
/// </summary>
public sealed class ConstraintSet
{
    /// <summary>Ids of the constraints no policy can remove, in evaluation order.</summary>
    public static readonly IReadOnlyList<string> MandatoryIds =
    [
        "host-state", "name-clash", "cpu-model", "nx", "64-bit", "nested", "hugepages", "pci-passthrough",
        "sriov", "storage", "host-affinity", "guest-affinity", "capacity",
    ];

    public IReadOnlyList<IStaticConstraint> Static { get; }
    public IReadOnlyList<IDynamicConstraint> Dynamic { get; }

    public ConstraintSet(Policy.Policy policy)
    {
        List<IStaticConstraint> s =
        [
            CpuModelConstraint.Instance, NxConstraint.Instance, LongModeConstraint.Instance,
            NestedVirtualisationConstraint.Instance, HugepageConstraint.Instance, PciPassthroughConstraint.Instance,
            SriovConstraint.Instance, StorageConstraint.Instance, HostAffinityConstraint.Instance,
        ];
        // Cheapest and most selective first: the hot loop stops at the first "no".
        List<IDynamicConstraint> d =
        [
            HostStateConstraint.Instance, CapacityConstraint.Instance, HugepageConstraint.Instance,
            NameClashConstraint.Instance, PciPassthroughConstraint.Instance, SriovConstraint.Instance,
            StorageConstraint.Instance, GuestAffinityConstraint.Instance,
        ];
        foreach (var f in policy.Filters)
        {
            switch (f)
            {
                case RequireHostLabelsFilter r: s.Add(new RequireHostLabelsConstraint(r)); break;
                case ExcludeHostsFilter e: d.Add(new ExcludeHostsConstraint(e)); break;
                case MaxGuestsPerHostFilter m: d.Add(new MaxGuestsPerHostConstraint(m)); break;
                case MaxHostCpuFilter c: d.Add(new MaxHostCpuConstraint(c)); break;
                default: throw new NotSupportedException($"filter {f.Id}");
            }
        }
        Static = s;
        Dynamic = d;
    }
}
