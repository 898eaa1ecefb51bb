using KvmCluster.Policies.Constraints;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Policies.Balancing;

/// <summary>
/// Mandatory moves, whatever the policy: evacuate hosts in maintenance, and repair hard affinity rules a
/// running guest breaks (after the rules or labels changed). Each affected guest moves once, to the best
/// host the policy's scoring finds; guests that cannot move are reported with the reasons.
/// </summary>
public sealed class MaintenanceBalancer : IBalancer
{
    public string Name => "maintenance";

    public BalancerResult Balance(PlacementEngine engine, PlanningContext context)
    {
        var result = new BalancerResult();
        var s = engine.State;
        for (var h = 0; h < s.HostCount; h++)
        {
            var host = s.Hosts[h];
            if (!host.Maintenance || s.GuestsOn(h).Count == 0) continue;
            result.Notes.Add($"host {host.Name} is in maintenance: evacuating {s.GuestsOn(h).Count} guest(s)");
            // The biggest guests first: they are the hardest to fit.
            foreach (var g in s.GuestsOn(h).OrderByDescending(g => g.MemoryMiB).ThenBy(g => g.Name, StringComparer.Ordinal).ToList())
                if (!context.IsMoving(g.Name)) MoveAway(engine, g, $"host {host.Name} is in maintenance", result);
        }

        for (var h = 0; h < s.HostCount; h++)
        {
            if (!s.Accepts(h)) continue;
            foreach (var g in s.GuestsOn(h).Where(g => HasHardRule(g) && !context.IsMoving(g.Name)).OrderBy(g => g.Name, StringComparer.Ordinal).ToList())
                if (BrokenRule(engine, g, h) is { } why)
                    MoveAway(engine, g, $"repairs a hard affinity rule: {why}", result);
        }
        return result;
    }

    private static bool HasHardRule(Guest g)
    {
        foreach (var r in g.Affinity) if (r.Hard) return true;
        return false;
    }

    private static void MoveAway(PlacementEngine engine, Guest g, string reason, BalancerResult result)
    {
        var placement = engine.Place(g, PlaceOptions.Fast);
        if (placement.Host is not { } to)
        {
            var why = engine.Place(g, PlaceOptions.Explained).Rejected
                .SelectMany(r => r.Reasons).Where(r => r.ConstraintId != "migration").GroupBy(r => r.ConstraintId).OrderByDescending(x => x.Count())
                .Select(x => $"{x.Key} on {x.Count()} host(s), e.g. {x.First().Message}");
            result.Refused.Add(new RefusedMove(g.Name, g.Host!, null, $"{reason}, but no host can take it: {string.Join("; ", why)}"));
            return;
        }
        engine.State.Move(g, engine.State.HostIndex(to));
        result.Moves.Add(new ProposedMove(g, g.Host!, to, [reason, $"{to} is the best remaining host (score {placement.Score:0.000})"]));
    }

    /// <summary>The hard affinity rule the guest breaks where it runs now, or null.</summary>
    private static string? BrokenRule(PlacementEngine engine, Guest g, int h)
    {
        var host = engine.State.Hosts[h];
        if (HostAffinityConstraint.Instance.Check(new StaticInput(g, host, null, engine.Policy)) is { } why)
            return why.Replace(StaticInput.HostToken, "host " + host.Name);
        var d = engine.State.Demand(g);
        var guestRule = GuestAffinityConstraint.Instance;
        return guestRule.AppliesTo(d) && !guestRule.Admits(d, h, engine.State) ? guestRule.Explain(d, h, engine.State) : null;
    }
}
