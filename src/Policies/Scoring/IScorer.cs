using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Scoring;

/// <summary>
/// Rates the state a placement would produce on one host, normalised to 0 (worst) … 1 (best), so that
/// a policy's weights mean what they say (the lesson oVirt learnt when memory weights swamped CPU).
/// </summary>
public interface IScorer
{
    string Id { get; }
    double Score(GuestDemand demand, int host, PlacementState state);
}

/// <summary>One scorer's part in a host's total, for explanations.</summary>
public readonly record struct ScoreTerm(string Scorer, double Weight, double Value)
{
    public override string ToString() => $"{Scorer} {Value:0.000}×{Weight:0.##}";
}
