using KvmCluster.Policies.Constraints.Filters;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// The checks a policy runs: the mandatory KVM constraints, always, followed by the policy's extra filters.
/// There is deliberately no way to drop a mandatory one (oVirt's mandatory policy units).
/// </summary>
public sealed class ConstraintSet
{
    // The mandatory constraints, each once: static ones answered per host class, dynamic ones per host.
    private static readonly IStaticConstraint[] MandatoryStatic =
    [
        CpuModelConstraint.Instance, NxConstraint.Instance, LongModeConstraint.Instance,
        NestedVirtualisationConstraint.Instance, HugepageConstraint.Instance, PciPassthroughConstraint.Instance,
        SriovConstraint.Instance, StorageConstraint.Instance, NetworkConstraint.Instance, MachineTypeConstraint.Instance, HostAffinityConstraint.Instance,
    ];

    // Cheapest and most selective first: the hot loop stops at the first "no".
    private static readonly IDynamicConstraint[] MandatoryDynamic =
    [
        HostStateConstraint.Instance, CapacityConstraint.Instance, HugepageConstraint.Instance,
        NameClashConstraint.Instance, PciPassthroughConstraint.Instance, SriovConstraint.Instance,
        StorageConstraint.Instance, GuestAffinityConstraint.Instance,
    ];

    /// <summary>Ids of the constraints no policy can remove (static ones first), taken from the instances themselves.</summary>
    public static readonly IReadOnlyList<string> MandatoryIds =
        [.. MandatoryStatic.Select(c => c.Id).Concat(MandatoryDynamic.Select(c => c.Id)).Distinct()];

    public IReadOnlyList<IStaticConstraint> Static { get; }
    public IReadOnlyList<IDynamicConstraint> Dynamic { get; }

    public ConstraintSet(Rules.Policy policy)
    {
        List<IStaticConstraint> s = [.. MandatoryStatic];
        List<IDynamicConstraint> d = [.. MandatoryDynamic];
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
