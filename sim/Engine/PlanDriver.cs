using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Policy;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// Runs a planner-family policy (evenly-distributed, power-saving, …) exactly as a live scheduler would: each
/// interval a fleet snapshot goes to <see cref="Rebalancer.Plan"/>, and the plan is carried out wave by wave
/// (power-ons boot, migrations take their predicted time, power-offs when the host is empty), a wave starting
/// when the previous one has finished. No new plan is made while one is being carried out. Arriving VMs are
/// placed with the policy's own placement engine.
/// </summary>
internal sealed class PlanDriver(SimDatacenter dc, Policy policy, SimOptions options, SimMigrations migrations)
{
    private readonly Queue<List<PlanAction>> _waves = new();
    private readonly List<int> _waveVms = [];
    private readonly List<int> _waveBoots = [];
    private readonly List<RecentMigration> _recent = [];
    private PlacementEngine? _placement;
    private double _placementAt = double.NaN;

    public int Plans { get; private set; }

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

    public void Step()
    {
        _placement = null;
        if (Busy) { Progress(); return; }
        var now = DateTimeOffset.UnixEpoch.AddSeconds(dc.Clock);
        _recent.RemoveAll(r => now - r.At > TimeSpan.FromHours(1));
        var link = SimOptions.LinkFor(dc.Hosts.Min(h => h.Type.BwKbps));
        var plan = Rebalancer.Plan(SimFleetSnapshot.Build(dc, options.Interval), policy,
            new PlanningContext { Now = now, Link = link, RecentMigrations = [.. _recent] });
        Plans++;
        foreach (var wave in plan.Actions.GroupBy(a => a.Wave).OrderBy(g => g.Key)) _waves.Enqueue([.. wave]);
        Progress();
    }

    private bool Busy => _waves.Count > 0 || _waveVms.Count > 0 || _waveBoots.Count > 0;

    /// <summary>Called after migrations end and boots finish: starts the next wave once the current one is done.</summary>
    public void Progress()
    {
        _waveVms.RemoveAll(v => !dc.Vms[v].InMigration);
        _waveBoots.RemoveAll(h => dc.Hosts[h].Power != HostPower.Booting);
        while (_waveVms.Count == 0 && _waveBoots.Count == 0 && _waves.TryDequeue(out var wave))
            foreach (var action in wave) Carry(action);
    }

    private void Carry(PlanAction action)
    {
        var now = DateTimeOffset.UnixEpoch.AddSeconds(dc.Clock);
        switch (action)
        {
            case PowerAction { Operation: PowerOperation.PowerOn } on:
            {
                var h = SimFleetSnapshot.HostIndex(on.Host);
                migrations.WakeHost(h);
                if (dc.Hosts[h].Power == HostPower.Booting) _waveBoots.Add(h);
                break;
            }
            case PowerAction off:
                migrations.PowerOff(SimFleetSnapshot.HostIndex(off.Host));
                break;
            case MigrateAction m:
            {
                var v = SimFleetSnapshot.VmIndex(m.Guest);
                var from = SimFleetSnapshot.HostIndex(m.From);
                var to = SimFleetSnapshot.HostIndex(m.To);
                var vm = dc.Vms[v];
                // The fleet moved on since the plan was made: skip what no longer applies.
                if (vm.Gone || vm.Host != from || vm.InMigration || !dc.IsSuitable(to, v)) break;
                migrations.Start(v, to);
                _waveVms.Add(v);
                _recent.Add(new RecentMigration(m.Guest, m.From, m.To, now));
                break;
            }
        }
    }
}
