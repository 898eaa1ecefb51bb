using KvmCluster.Policies.Rules;

namespace KvmCluster.Sim.Engine;

public enum SimPolicyKind
{
    /// <summary>No power awareness: every host draws its full power all the time; no migrations.</summary>
    NonPowerAware,
    /// <summary>Power follows utilisation (DVFS), first-fit placement, no migrations.</summary>
    Dvfs,
    /// <summary>The adaptive (CloudSim) family through the optimiser's port.</summary>
    Adaptive,
    /// <summary>Any other policy through the live planner (maintenance + balancer + plan builder).</summary>
    Planner,
}

/// <summary>What the simulator runs: a policy and how it is driven.</summary>
public sealed record SimPolicy(string Name, SimPolicyKind Kind, Policy Policy)
{
    public static SimPolicy For(string name, Policy policy) => name switch
    {
        "npa" => new SimPolicy(name, SimPolicyKind.NonPowerAware, policy),
        "dvfs" => new SimPolicy(name, SimPolicyKind.Dvfs, policy),
        _ => new SimPolicy(policy.Name, policy.Kind == BalancerKind.Adaptive ? SimPolicyKind.Adaptive : SimPolicyKind.Planner, policy),
    };
}
