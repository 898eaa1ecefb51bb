using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Scoring;

/// <summary>The policy's scorers with non-zero weight; the total is their weighted mean, so it stays in 0..1.</summary>
public sealed class ScoreCard
{
    private readonly IScorer[] _scorers;
    private readonly double[] _weights;
    private readonly double _weightSum;
    private readonly double[] _normalised;

    public ScoreCard(ScoreWeights w)
    {
        var pairs = new (IScorer, double)[]
        {
            (SpreadScorer.Instance, w.Spread), (PackScorer.Instance, w.Pack), (PowerDeltaScorer.Instance, w.Power),
            (SoftAffinityScorer.Instance, w.SoftAffinity), (FewestMigrationsScorer.Instance, w.FewestMigrations),
        }.Where(p => p.Item2 > 0).ToArray();
        _scorers = [.. pairs.Select(p => p.Item1)];
        _weights = [.. pairs.Select(p => p.Item2)];
        _weightSum = _weights.Sum();
        _normalised = [.. _weights.Select(w => w / _weightSum)];
    }

    // Both forms add the constant scorers first, then the others in order: the same arithmetic, so the
    // batch used for placement and the single-host form used for explanations give identical totals.

    public double Total(GuestDemand d, int h, PlacementState s)
    {
        var sum = Constant(d, out var variable);
        foreach (var i in variable) sum += _normalised[i] * _scorers[i].Score(d, h, s);
        return sum;
    }

    /// <summary>Weighted mean score of each of the first <paramref name="count"/> hosts into <paramref name="totals"/>.</summary>
    public void TotalAll(GuestDemand d, int[] hosts, int count, double[] totals, PlacementState s)
    {
        Array.Fill(totals, Constant(d, out var variable), 0, count);
        foreach (var i in variable) _scorers[i].Accumulate(d, hosts, count, totals, _normalised[i], s);
    }

    private double Constant(GuestDemand d, out List<int> variable)
    {
        variable = new List<int>(_scorers.Length);
        var sum = 0.0;
        for (var i = 0; i < _scorers.Length; i++)
        {
            if (_scorers[i].IsConstantFor(d, out var value)) sum += _normalised[i] * value;
            else variable.Add(i);
        }
        return sum;
    }

    public IReadOnlyList<ScoreTerm> Breakdown(GuestDemand d, int h, PlacementState s) =>
        [.. _scorers.Select((sc, i) => new ScoreTerm(sc.Id, _weights[i], sc.Score(d, h, s)))];
}
