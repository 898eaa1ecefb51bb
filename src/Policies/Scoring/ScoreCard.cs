using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Policy;

namespace KvmCluster.Policies.Scoring;

/// <summary>The policy's scorers with non-zero weight; the total is their weighted mean, so it stays in 0..1.</summary>
public sealed class ScoreCard
{
    private readonly IScorer[] _scorers;
    private readonly double[] _weights;
    private readonly double _weightSum;

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
    }

    public double Total(GuestDemand d, int h, PlacementState s)
    {
        if (_weightSum <= 0) return 0;
        double sum = 0;
        for (var i = 0; i < _scorers.Length; i++) sum += _weights[i] * _scorers[i].Score(d, h, s);
        return sum / _weightSum;
    }

    public IReadOnlyList<ScoreTerm> Breakdown(GuestDemand d, int h, PlacementState s) =>
        [.. _scorers.Select((sc, i) => new ScoreTerm(sc.Id, _weights[i], sc.Score(d, h, s)))];
}
