using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Policies.Balancing;

/// <summary>A move a balancer wants, in the order it decided them (later moves assume earlier ones happened).</summary>
public sealed record ProposedMove(Guest Guest, string From, string To, IReadOnlyList<string> Reasons);

/// <summary>A power transition a balancer wants. Urgent ones may exceed the per-round limit.</summary>
public sealed record ProposedPower(string Host, PowerOperation Operation, IReadOnlyList<string> Reasons, bool Urgent = false);

/// <summary>What a balancer proposes; the plan builder turns it into an ordered, transient-safe plan.</summary>
public sealed class BalancerResult
{
    public List<ProposedMove> Moves { get; } = [];
    public List<ProposedPower> Power { get; } = [];
    public List<RefusedMove> Refused { get; } = [];
    public List<string> Notes { get; } = [];

    /// <summary>The same result with only these moves (power actions, refusals and notes kept).</summary>
    public BalancerResult WithMoves(IEnumerable<ProposedMove> moves)
    {
        var r = new BalancerResult();
        r.Moves.AddRange(moves);
        r.Power.AddRange(Power);
        r.Refused.AddRange(Refused);
        r.Notes.AddRange(Notes);
        return r;
    }

    public void Add(BalancerResult other)
    {
        Moves.AddRange(other.Moves);
        Power.AddRange(other.Power);
        Refused.AddRange(other.Refused);
        Notes.AddRange(other.Notes);
    }
}
