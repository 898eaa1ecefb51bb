using KvmCluster.Policies.Constraints;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Scoring;

/// <summary>Share (by rule weight) of the guest's soft affinity rules the host satisfies; 1 when it has none.</summary>
public sealed class SoftAffinityScorer : IScorer
{
    public static readonly SoftAffinityScorer Instance = new();
    public string Id => "soft-affinity";

    public double Score(GuestDemand d, int h, PlacementState s)
    {
        double total = 0, met = 0;
        foreach (var r in d.Guest.Affinity)
        {
            if (r.Hard) continue;
            total += r.Weight;
            bool present = r.Scope == AffinityScope.Host
                ? s.Hosts[h].Labels.TryGetValue(r.Key, out var v) && v == r.Value
                : GuestAffinityConstraint.Others(d, h, s, r.Selector) > 0;
            if (present != r.Anti) met += r.Weight;
        }
        return total <= 0 ? 1 : met / total;
    }

    public bool IsConstantFor(GuestDemand d, out double value)
    {
        value = 1;
        foreach (var r in d.Guest.Affinity)
            if (!r.Hard) return false;
        return true;
    }
}
