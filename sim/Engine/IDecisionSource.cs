using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// Where a replay's decisions come from: the placement core called directly (<see cref="DirectDecisions"/>), or a
/// KvmCluster — host grains sampling the simulated datacenter, the scheduler grain deciding with the same core
/// (<c>kvmsim run --through-cluster</c>). The simulator carries the decisions out in trace time either way, with the
/// core's plan executor.
/// </summary>
public interface IDecisionSource
{
    /// <summary>An update instant: every running guest's usage is sampled (host agents do it on their timer live).</summary>
    void Sample(DateTimeOffset now);

    /// <summary>The host (index) for an arriving VM, or -1 when no host can take it.</summary>
    int Place(int vm);

    /// <summary>A planning round at <paramref name="now"/>: the plan's id and its steps.</summary>
    (string Id, IReadOnlyList<PlanStep> Steps) Plan(DateTimeOffset now, MigrationLink link);

    /// <summary>A migration the plan asked for has completed in the simulated datacenter (the clock is at its end).</summary>
    void MigrationCompleted(int vm, int from, int to);
}
