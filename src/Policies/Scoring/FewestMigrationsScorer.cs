using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Scoring;

/// <summary>Staying put scores 1, moving 0: a bias against churn when a balancer re-places running guests.</summary>
public sealed class FewestMigrationsScorer : IScorer
{
    public static readonly FewestMigrationsScorer Instance = new();
    public string Id => "fewest-migrations";

    public double Score(GuestDemand d, int h, PlacementState s) => d.CurrentHost < 0 || h == d.CurrentHost ? 1 : 0;

    public bool IsConstantFor(GuestDemand d, out double value)
    {
        value = 1;
        return d.CurrentHost < 0;
    }
}
