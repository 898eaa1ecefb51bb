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

    /// <summary>True when this scorer gives every host the same value for this guest (e.g. no soft rules).</summary>
    bool IsConstantFor(GuestDemand demand, out double value)
    {
        value = 0;
        return false;
    }

    /// <summary>Adds weight × score for each of the first <paramref name="count"/> hosts to <paramref name="totals"/>.</summary>
    void Accumulate(GuestDemand demand, int[] hosts, int count, double[] totals, double weight, PlacementState state)
    {
        for (var i = 0; i < count; i++) totals[i] += weight * Score(demand, hosts[i], state);
    }
}

/// <summary>One scorer's part in a host's total, for explanations.</summary>
public readonly record struct ScoreTerm(string Scorer, double Weight, double Value)
{
    public override string ToString() => $"{Scorer} {Value:0.000}×{Weight:0.##}";
}
