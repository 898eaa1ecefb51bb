using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Policy;

namespace KvmCluster.Sim.Engine;

/// <summary>Decisions straight from the placement core, on fleet snapshots of the simulated datacenter.</summary>
internal sealed class DirectDecisions(SimDatacenter dc, Policy policy, SimOptions options) : IDecisionSource
{
    private readonly List<RecentMigration> _recent = [];
    private PlacementEngine? _placement;
    private double _placementAt = double.NaN;

    /// <summary>The policy's placement for an arriving VM (one engine per instant, so a batch sees itself).</summary>
    public int Place(int v)
    {
        if (_placement is null || _placementAt != dc.Clock)
        {
            _placement = new PlacementEngine(SimFleetSnapshot.Build(dc, options.Interval), policy);
            _placementAt = dc.Clock;
        }
        var guest = SimFleetSnapshot.Guest(dc.Vms[v], null);
        var result = _placement.Place(guest, PlaceOptions.Fast);
        if (result.Host is not { } name) return -1;
        var h = SimFleetSnapshot.HostIndex(name);
        _placement.State.Add(_placement.State.Demand(guest with { Host = name }), h, reserved: false);
        return h;
    }

    public IReadOnlyList<PlannedAction> Plan(DateTimeOffset now, MigrationLink link)
    {
        _placement = null;
        _recent.RemoveAll(r => now - r.At > TimeSpan.FromHours(1));
        var plan = Rebalancer.Plan(SimFleetSnapshot.Build(dc, options.Interval), policy,
            new PlanningContext { Now = now, Link = link, RecentMigrations = [.. _recent] });
        return [.. plan.Actions.Select(a => a switch
        {
            MigrateAction m => (PlannedAction)new PlannedMigration(m.Wave, m.Guest, m.From, m.To),
            PowerAction p => new PlannedPower(p.Wave, p.Host, p.Operation == PowerOperation.PowerOn),
            _ => throw new InvalidOperationException($"unknown plan action {a}"),
        })];
    }

    public void MigrationCompleted(int vm, int from, int to) =>
        _recent.Add(new RecentMigration(SimFleetSnapshot.GuestName(vm), SimFleetSnapshot.HostName(from), SimFleetSnapshot.HostName(to),
            DateTimeOffset.UnixEpoch.AddSeconds(dc.Clock)));
}
