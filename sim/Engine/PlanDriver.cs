
namespace KvmCluster.Sim.Engine;

/// <summary>
/// Runs a planner-family policy (evenly-distributed, power-saving, …) exactly as a live scheduler would: each
/// interval a fleet snapshot goes to <see cref="Rebalancer.Plan"/>, and the plan is carried out wave by wave
/// (power-ons boot, migrations take their predicted time, power-offs when the host is empty), a wave starting
/// when the previous one has finished. No new plan is made while one is being carried out. Arriving VMs are
/// placed with the policy's own placement engine. Placements and plans come from an <see cref="IDecisionSource"/>:
/// the core directly, or a cluster running it. A guest counts as recently moved from when its migration ends.
/// </summary>
internal sealed class PlanDriver(SimDatacenter dc, SimMigrations migrations, IDecisionSource decisions)
{
    private readonly Queue<List<PlannedAction>> _waves = new();
    private readonly List<(int Vm, int From, int To)> _waveVms = [];
    private readonly List<int> _waveBoots = [];

    public int Plans { get; private set; }

    /// <summary>Every decision in order (placements and plans), for comparing replays.</summary>
    public List<string> Decisions { get; } = [];

    public int Place(int v)
    {
        var h = decisions.Place(v);
        Decisions.Add($"{dc.Clock:0.###} place {SimFleetSnapshot.GuestName(v)} {(h >= 0 ? SimFleetSnapshot.HostName(h) : "rejected")}");
        return h;
    }

    public void Step()
    {
        if (Busy) { Progress(); return; }
        var now = DateTimeOffset.UnixEpoch.AddSeconds(dc.Clock);
        var link = SimOptions.LinkFor(dc.Hosts.Min(h => h.Type.BwKbps));
        var actions = decisions.Plan(now, link);
        Plans++;
        Decisions.Add($"{dc.Clock:0.###} plan: {actions.Count} actions");
        foreach (var a in actions) Decisions.Add($"{dc.Clock:0.###} plan wave {a.Wave}: {a}");
        foreach (var wave in actions.GroupBy(a => a.Wave).OrderBy(g => g.Key)) _waves.Enqueue([.. wave]);
        Progress();
    }

    private bool Busy => _waves.Count > 0 || _waveVms.Count > 0 || _waveBoots.Count > 0;

    /// <summary>Called after migrations end and boots finish: starts the next wave once the current one is done.</summary>
    public void Progress()
    {
        for (var i = _waveVms.Count - 1; i >= 0; i--)
        {
            var (v, from, to) = _waveVms[i];
            var vm = dc.Vms[v];
            if (vm.InMigration) continue;
            _waveVms.RemoveAt(i);
            // A guest stays where it is after its migration was cancelled (it left, or the target went away).
            if (!vm.Gone && vm.Host == to) decisions.MigrationCompleted(v, from, to);
        }
        _waveBoots.RemoveAll(h => dc.Hosts[h].Power != HostPower.Booting);
        while (_waveVms.Count == 0 && _waveBoots.Count == 0 && _waves.TryDequeue(out var wave))
            foreach (var action in wave) Carry(action);
    }

    private void Carry(PlannedAction action)
    {
        switch (action)
        {
            case PlannedPower { On: true } on:
            {
                var h = SimFleetSnapshot.HostIndex(on.Host);
                migrations.WakeHost(h);
                if (dc.Hosts[h].Power == HostPower.Booting) _waveBoots.Add(h);
                break;
            }
            case PlannedPower off:
                migrations.PowerOff(SimFleetSnapshot.HostIndex(off.Host));
                break;
            case PlannedMigration m:
            {
                var v = SimFleetSnapshot.VmIndex(m.Guest);
                var from = SimFleetSnapshot.HostIndex(m.From);
                var to = SimFleetSnapshot.HostIndex(m.To);
                var vm = dc.Vms[v];
                // The fleet moved on since the plan was made: skip what no longer applies.
                if (vm.Gone || vm.Host != from || vm.InMigration || !dc.IsSuitable(to, v)) break;
                migrations.Start(v, to);
                _waveVms.Add((v, from, to));
                break;
            }
        }
    }
}
