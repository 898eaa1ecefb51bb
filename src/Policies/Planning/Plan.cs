using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace KvmCluster.Policies.Planning;

/// <summary>
/// A first-class plan: ordered migrations and power actions, each with reasons and predicted cost, plus
/// the moves that were refused and why. Its id is a hash of its content, so the same inputs give the same
/// plan, byte for byte.
/// </summary>
public sealed record Plan
{
    public required string Id { get; init; }
    public required string Policy { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public PlanState State { get; init; } = PlanState.Recommended;
    public IReadOnlyList<PlanAction> Actions { get; init; } = [];
    public IReadOnlyList<RefusedMove> Refused { get; init; } = [];
    /// <summary>Why the plan looks the way it does (thresholds met or not, what was considered).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    public IEnumerable<MigrateAction> Migrations => Actions.OfType<MigrateAction>();
    public IEnumerable<PowerAction> PowerActions => Actions.OfType<PowerAction>();
    public bool IsEmpty => Actions.Count == 0;

    /// <summary>The plan in <paramref name="to"/>; throws when the life cycle does not allow that step.</summary>
    public Plan MoveTo(PlanState to) => PlanStates.CanMove(State, to)
        ? this with { State = to }
        : throw new InvalidOperationException($"plan {Id} cannot go from {State.Upper()} to {to.Upper()}");

    /// <summary>A readable rendering, used by the CLI and as the golden file of scenario tests.</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"plan {Id} policy={Policy} state={State.Upper()}\n");
        foreach (var n in Notes) sb.Append("note: ").Append(n).Append('\n');
        foreach (var wave in Actions.GroupBy(a => a.Wave).OrderBy(g => g.Key))
        {
            sb.Append(CultureInfo.InvariantCulture, $"wave {wave.Key}:\n");
            foreach (var a in wave.OrderBy(a => a.Step))
            {
                sb.Append(CultureInfo.InvariantCulture, $"  {a.Step}. {a}\n");
                foreach (var r in a.Reasons) sb.Append("     because ").Append(r).Append('\n');
            }
        }
        if (Actions.Count == 0) sb.Append("no actions\n");
        foreach (var r in Refused) sb.Append("refused: ").Append(r).Append('\n');
        return sb.ToString();
    }

    /// <summary>A short content hash: equal plans get equal ids.</summary>
    public static string IdFor(string policy, DateTimeOffset createdAt, IEnumerable<PlanAction> actions, IEnumerable<RefusedMove> refused)
    {
        var text = new StringBuilder(policy).Append('|').Append(createdAt.ToUnixTimeMilliseconds());
        foreach (var a in actions) text.Append('|').Append(a.Wave).Append(':').Append(a);
        foreach (var r in refused) text.Append("|x:").Append(r);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        return "plan-" + Convert.ToHexStringLower(hash.AsSpan(0, 6));
    }
}
