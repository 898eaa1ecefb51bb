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
        var engine = new PlacementEngine(snapshot, policy);
        // A guest in flight holds its destination too, for the balancers and the builder alike.
        var s = engine.State;
        foreach (var m in context.InFlight)
            if (s.TryGetHostIndex(m.To, out var to) && snapshot.FindGuest(m.Guest) is { } g) s.Add(s.Demand(g with { Host = m.To }), to, reserved: true);
        // Balancers leave the state as their moves would; the builder starts again from the fleet as it is.
        var mark = engine.State.Mark();
        var proposals = new MaintenanceBalancer().Balance(engine, context);
        if (BalancerFor(policy.Kind) is { } balancer) proposals.Add(balancer.Balance(engine, context));
        engine.State.RollbackTo(mark);
        return PlanBuilder.Build(engine, proposals, context);
    }
}
