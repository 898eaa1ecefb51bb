using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Balancing.Adaptive;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Planning;

/// <summary>
/// One planning round: the mandatory moves (maintenance evacuation, hard-affinity repair), then the
/// policy's balancer on the fleet as those moves leave it, then the plan builder. Pure: the same snapshot,
/// policy and context give the same plan.
/// </summary>
public static class Rebalancer
{
    public static IBalancer? BalancerFor(BalancerKind kind) => kind switch
    {
        BalancerKind.EvenlyDistributed => new EvenlyDistributedBalancer(),
        BalancerKind.PowerSaving => new PowerSavingBalancer(),
        BalancerKind.Adaptive => new AdaptiveBalancer(),
        _ => null,
    };

    public static Plan Plan(FleetSnapshot snapshot, Rules.Policy policy, PlanningContext context)
    {
        var engine = Engine(snapshot, policy, context);
        // Balancers leave the state as their moves would; the builder starts again from the fleet as it is.
        var mark = engine.State.Mark();
        var proposals = new MaintenanceBalancer().Balance(engine, context);
        if (BalancerFor(policy.Kind) is { } balancer) proposals.Add(balancer.Balance(engine, context));
        engine.State.RollbackTo(mark);
        var plan = PlanBuilder.Build(engine, proposals, context);
        if (!Unordered(plan, proposals)) return plan;

        // The balancers' moves are a sequence, each an improvement on the fleet the ones before it left. When the
        // builder cannot order some of them safely, what is left of the sequence may be worse than no move at all
        // (a guest sent on to where the next move would have made room). So the plan is the longest prefix of the
        // sequence that builds whole: its end is the fleet the sequence reached there, better than the start.
        int lo = 0, hi = proposals.Moves.Count - 1;
        Plan? best = null;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            var candidate = PlanBuilder.Build(Engine(snapshot, policy, context), proposals.WithMoves(proposals.Moves.Take(mid)), context);
            if (Unordered(candidate, proposals)) hi = mid - 1;
            else { lo = mid; best = candidate; }
        }
        best ??= PlanBuilder.Build(Engine(snapshot, policy, context), proposals.WithMoves(proposals.Moves.Take(lo)), context);
        var cut = proposals.Moves.Skip(lo).ToList();
        var refused = plan.Refused.Where(r => r.Reason.StartsWith(PlanBuilder.Unorderable, StringComparison.Ordinal))
            .Concat(cut.Where(m => !plan.Refused.Any(r => r.Guest == m.Guest.Name && r.Reason.StartsWith(PlanBuilder.Unorderable, StringComparison.Ordinal)))
                .Select(m => new RefusedMove(m.Guest.Name, m.From, m.To, "left for a later round: it follows a move that cannot be ordered safely, and the balancer's moves only improve the fleet as a whole")))
            .Where(r => !best.Refused.Contains(r));
        return best with { Refused = [.. best.Refused, .. refused], Id = Planning.Plan.IdFor(policy.Name, context.Now, best.Actions, [.. best.Refused, .. refused]) };
    }

    /// <summary>A fresh engine on the fleet as it is, with guests in flight holding their destinations too.</summary>
    private static PlacementEngine Engine(FleetSnapshot snapshot, Rules.Policy policy, PlanningContext context)
    {
        var engine = new PlacementEngine(snapshot, policy);
        var s = engine.State;
        foreach (var m in context.InFlight)
            if (s.TryGetHostIndex(m.To, out var to) && snapshot.FindGuest(m.Guest) is { } g) s.Add(s.Demand(g with { Host = m.To }), to, reserved: true);
        return engine;
    }

    /// <summary>Whether the builder had to refuse some of the balancers' moves for want of a safe order.</summary>
    private static bool Unordered(Plan plan, BalancerResult proposals) =>
        plan.Refused.Any(r => r.Reason.StartsWith(PlanBuilder.Unorderable, StringComparison.Ordinal)) && proposals.Moves.Count > 0;
}
