using KvmCluster.Policies.Migration;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// Where a replay's decisions come from: the placement core called directly (<see cref="DirectDecisions"/>), or a
/// KvmCluster — host grains reporting the simulated datacenter, the scheduler grain deciding with the same core
/// (<c>kvmsim run --through-cluster</c>). The simulator carries the decisions out in trace time either way.
/// </summary>
public interface IDecisionSource
{
    /// <summary>The host (index) for an arriving VM, or -1 when no host can take it.</summary>
    int Place(int vm);

    /// <summary>A planning round at <paramref name="now"/>.</summary>
    IReadOnlyList<PlannedAction> Plan(DateTimeOffset now, MigrationLink link);

    /// <summary>A migration the plan asked for has completed in the simulated datacenter (the clock is at its end).</summary>
    void MigrationCompleted(int vm, int from, int to);
}

/// <summary>One action of a plan, as the simulator carries it out: actions of a wave start together.</summary>
public abstract record PlannedAction(int Wave);

public sealed record PlannedMigration(int Wave, string Guest, string From, string To) : PlannedAction(Wave)
{
    public override string ToString() => $"migrate {Guest} {From} -> {To}";
}

public sealed record PlannedPower(int Wave, string Host, bool On) : PlannedAction(Wave)
{
    public override string ToString() => $"{(On ? "power-on" : "power-off")} {Host}";
}
