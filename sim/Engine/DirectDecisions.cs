using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Sim.Engine;

/// <summary>Decisions straight from the placement core, on fleet snapshots of the simulated datacenter.</summary>
internal sealed class DirectDecisions(SimDatacenter dc, Policy policy, SimUsageBook usage) : IDecisionSource
{
    private List<RecentMigration> _recent = [];
    private PlacementEngine? _placement;
    private double _placementAt = double.NaN;

    /// <summary>The planner's own book is the simulator's: nothing more to sample.</summary>
    public void Sample(DateTimeOffset now) { }

    /// <summary>The policy's placement for an arriving VM (one engine per instant, so a batch sees itself).</summary>
    public int Place(int v)
    {
        if (_placement is null || _placementAt != dc.Clock)
        {
            _placement = new PlacementEngine(usage.Snapshot(), policy);
            _placementAt = dc.Clock;
        }
        var guest = SimFleetSnapshot.Guest(dc.Vms[v], null);
        var result = _placement.Place(guest, PlaceOptions.Fast);
        if (result.Host is not { } name) return -1;
        var h = SimFleetSnapshot.HostIndex(name);
        _placement.State.Add(_placement.State.Demand(guest with { Host = name }), h, reserved: false);
        return h;
    }

    public (string Id, IReadOnlyList<PlanStep> Steps) Plan(DateTimeOffset now, MigrationLink link)
    {
        _placement = null;
        _recent = PlanningContext.StillRecent(_recent, now);
        var plan = Rebalancer.Plan(usage.Snapshot(), policy, new PlanningContext { Now = now, Link = link, RecentMigrations = [.. _recent] });
        return (plan.Id, PlanStep.Of(plan));
    }

    public void MigrationCompleted(int vm, int from, int to) =>
        _recent.Add(new RecentMigration(SimFleetSnapshot.GuestName(vm), SimFleetSnapshot.HostName(from), SimFleetSnapshot.HostName(to),
            DateTimeOffset.UnixEpoch.AddSeconds(dc.Clock)));
}
