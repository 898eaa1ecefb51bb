using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// Carries out what the policy decided: live migrations (CloudSim's RAM / (BW / 2) in compat mode, the
/// migration cost model otherwise, where one that would never converge is cancelled and the guest stays on
/// its source), host boots and power-offs (native mode), and the counts the reports need.
/// </summary>
internal sealed class SimMigrations(SimDatacenter dc, SimOptions options, Policy policy, Action<double, Simulation.SimEvent> schedule)
{
    // (VM, target) pairs in flight. CloudSim can start two migrations of one VM in a round (placed off an
    // overloaded host onto a host that consolidation then empties); both run, as there.
    private readonly HashSet<(int Vm, int Target)> _active = [];
    private readonly HashSet<(int Vm, int Target)> _failing = [];

    public int Count { get; private set; }
    public int ThisStep { get; private set; }
    public int Failed { get; private set; }
    public int Boots { get; private set; }
    public int PowerOffs { get; private set; }
    public bool Busy => _active.Count > 0;

    public void StepStarted() => ThisStep = 0;

    public void Start(int v, int target)
    {
        var vm = dc.Vms[v];
        var host = dc.Hosts[target];
        var wait = 0.0;
        if (options.Model.HasPowerStates && host.Power != HostPower.On)
        {
            Wake(target);
            wait = host.BootedAt - dc.Clock; // the guest waits, already reserved on the target, for the boot
        }
        dc.AddMigratingIn(target, v);
        _active.Add((v, target));
        Count++;
        ThisStep++;
        double seconds;
        if (options.Model.FixedMigrationSeconds(vm, host) is { } fixedSeconds) seconds = fixedSeconds;
        else
        {
            var prediction = Predict(vm, dc.Hosts[vm.Host].Type.BwKbps < host.Type.BwKbps ? dc.Hosts[vm.Host].Type.BwKbps : host.Type.BwKbps);
            if (!prediction.Completes) { _failing.Add((v, target)); Failed++; }
            seconds = wait + prediction.TotalSeconds;
        }
        schedule(dc.Clock + seconds, new Simulation.MigrationEnd(v, target));
    }

    private MigrationPrediction Predict(SimVm vm, long bwKbps)
    {
        var m = policy.Migration;
        var busy = vm.MipsAt(dc.Clock) / (vm.Mips / vm.Pes);
        var dirty = busy * options.DirtyMiBpsPerBusyVcpu;
        var request = new MigrationRequest(vm.Ram, vm.Ram, dirty, m.BandwidthMiBps, m.DowntimeMs, vm.Hugepages2M > 0);
        var guest = new Guest { Name = "vm", VCpus = vm.Pes, MemoryMiB = vm.Ram };
        return MigrationCostModel.Predict(request, SimOptions.LinkFor(bwKbps), MigrationPlanning.Escalation(guest, m));
    }

    /// <summary>A migration's end event: false when it was cancelled in the meantime (the VM left).</summary>
    public bool Complete(int v, int target)
    {
        if (!_active.Remove((v, target))) return false;
        if (_failing.Remove((v, target))) dc.AbortMigration(v, target);
        else dc.CompleteMigration(v, target);
        return true;
    }

    /// <summary>The VM is leaving: a migration in flight is abandoned and the target's reservation freed.</summary>
    public void Cancel(int v)
    {
        foreach (var (vm, target) in _active.Where(p => p.Vm == v).ToList())
        {
            _active.Remove((vm, target));
            _failing.Remove((vm, target));
            dc.AbortMigration(v, target);
        }
    }

    /// <summary>The host a migration of <paramref name="v"/> is heading to, or −1.</summary>
    public int TargetOf(int v)
    {
        foreach (var (vm, target) in _active) if (vm == v) return target;
        return -1;
    }

    public void WakeForArrival(int host, int v)
    {
        if (dc.Hosts[host].Power == HostPower.Off) Wake(host);
    }

    private void Wake(int h)
    {
        var host = dc.Hosts[h];
        if (host.Power != HostPower.Off) return;
        dc.UpdateHost(h, dc.Clock); // its standby energy up to now
        host.Power = HostPower.Booting;
        host.BootedAt = dc.Clock + host.Type.Power.BootSeconds;
        Boots++;
        schedule(host.BootedAt, new Simulation.BootDone(h));
    }

    public void WakeHost(int h) => Wake(h);

    public void OnBootDone(int h)
    {
        var host = dc.Hosts[h];
        if (host.Power != HostPower.Booting) return;
        dc.UpdateHost(h, dc.Clock); // its booting energy up to now
        host.Power = HostPower.On;
        foreach (var v in host.Vms)
        {
            var vm = dc.Vms[v];
            if (!vm.Started && !vm.Gone && !host.MigratingIn.Contains(v)) vm.Started = true;
        }
        dc.UpdateHost(h, dc.Clock);
    }

    /// <summary>
    /// Native mode: hosts that are on and empty go to standby, keeping the policy's reserve, at most its
    /// power actions per round (<paramref name="all"/>: every one, at the start of the run).
    /// </summary>
    public void PowerOffEmptyHosts(double now, bool all)
    {
        var cfg = policy.PowerSaving;
        var empty = dc.Hosts.Where(h => h.Power == HostPower.On && h.Vms.Count == 0 && h.MigratingIn.Count == 0).ToList();
        var count = Math.Max(0, empty.Count - cfg.HostsInReserve);
        if (!all) count = Math.Min(count, cfg.MaxPowerActionsPerRound);
        foreach (var h in empty.Take(count)) PowerOff(h.Id);
    }

    public bool PowerOff(int h)
    {
        var host = dc.Hosts[h];
        if (host.Power != HostPower.On || host.Vms.Count > 0 || host.MigratingIn.Count > 0) return false;
        dc.UpdateHost(h, dc.Clock); // its idle energy up to now
        host.Power = HostPower.Off;
        PowerOffs++;
        return true;
    }
}
