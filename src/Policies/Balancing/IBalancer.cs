using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Balancing;

/// <summary>
/// Decides moves and power actions for one round. It works on the engine's state and leaves it as it
/// would be after its proposals (so a later balancer sees the result); the snapshot itself is untouched.
/// </summary>
public interface IBalancer
{
    string Name { get; }
    BalancerResult Balance(PlacementEngine engine, PlanningContext context);
}
