namespace KvmCluster.Sim.Engine.Decisions;

/// <summary>
/// Where a simulation's decisions come from, chosen once from the policy: CloudSim's first fit (NPA, DVFS), the
/// adaptive optimiser on the datacenter (CloudSim's family), or the live planner on fleet snapshots. The event loop
/// asks this and nothing else what to do.
/// </summary>
internal interface ISimDecisions
{
    /// <summary>A batch of arriving guests is to be placed, in order: ask <see cref="IBatchPlacement.Find"/> for each.</summary>
    IBatchPlacement StartPlacement(List<int> batch);

    /// <summary>An interval's decision round (after the datacenter's update): migrations and power actions.</summary>
    void Round();

    /// <summary>A migration or a boot ended: an executing plan may go on.</summary>
    void Progress();

    /// <summary>Placements and plans in order (planner family; empty otherwise).</summary>
    IReadOnlyList<string> Decisions { get; }

    /// <summary>Plans the executor failed, with the reason (planner family; empty otherwise).</summary>
    IReadOnlyList<string> Failures { get; }
}

/// <summary>One batch's placements: a host for each guest in turn (−1: none), told where each went.</summary>
internal interface IBatchPlacement
{
    int Find(int vm);
    void Placed(int host);
}
