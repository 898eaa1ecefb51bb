using KvmCluster.Policies.Balancing.Adaptive;
using KvmCluster.Policies.Rules;
using KvmCluster.Sim.Engine.Models;

namespace KvmCluster.Sim.Engine.Decisions;

/// <summary>
/// The adaptive family as CloudSim runs it: PABFD for arrivals, and each interval the optimiser straight on the
/// datacenter (overloaded hosts relieved, underloaded ones emptied as the model's consolidation rule says).
/// </summary>
internal sealed class AdaptiveDecisions(SimDatacenter dc, SimMigrations migrations, AdaptiveOptimizer optimizer, AdaptiveSettings settings, ISimModel model)
    : ISimDecisions
{
    public IBatchPlacement StartPlacement(List<int> batch) => new Batch(optimizer.StartPlacement(dc, batch));

    public void Round()
    {
        var moves = optimizer.Optimize(dc, model.ConsolidationLimit(settings), model.Consolidates(settings));
        foreach (var m in moves) migrations.Start(m.Vm, m.Host);
        if (model.HasPowerStates) migrations.PowerOffEmptyHosts(dc.Clock, all: false);
    }

    public void Progress() { }

    public IReadOnlyList<string> Decisions => [];

    public IReadOnlyList<string> Failures => [];

    private sealed class Batch(AdaptiveOptimizer.Placer placer) : IBatchPlacement
    {
        public int Find(int vm) => placer.Find(vm);

        public void Placed(int host) => placer.Placed(host);
    }
}
