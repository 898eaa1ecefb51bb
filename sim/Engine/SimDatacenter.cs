using KvmCluster.Sim.Traces;
using KvmCluster.Policies.Balancing.Adaptive;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// The simulated hosts and VMs, with CloudSim's host operations (create, destroy, migrate in, update) and the
/// adaptive heuristics' port, so the simulator runs the very optimiser the live planner runs.
/// </summary>
public sealed class SimDatacenter(SimHost[] hosts, SimVm[] vms, SimOptions options) : IAdaptiveFleet
{
    public SimHost[] Hosts { get; } = hosts;
    public SimVm[] Vms { get; } = vms;
    public SimOptions Options { get; } = options;
    public double Clock;

    // ---- CloudSim host operations --------------------------------------------------------------------

    private int RequestedRam(SimVm vm) => Options.CloudSimCompat && !vm.BeingInstantiated ? 0 : vm.Ram;
    private long RequestedBw(SimVm vm) => Options.CloudSimCompat && !vm.BeingInstantiated ? 0 : vm.Bw;

    public bool VmCreate(int h, int v)
    {
        var host = Hosts[h];
        var vm = Vms[v];
        if (!Reserve(host, v, vm)) return false;
        host.Scheduler.Allocate(v, vm.RequestedMips, vm.InMigration, vm.Pes);
        host.Vms.Add(v);
        vm.Host = h;
        return true;
    }

    private bool Reserve(SimHost host, int v, SimVm vm)
    {
        var ram = RequestedRam(vm);
        var bw = RequestedBw(vm);
        if (host.Reserved.Remove(v, out var old))
        {
            host.RamAvailable += old.Ram;
            host.BwAvailable += old.Bw;
            host.HugepagesFree += vm.Hugepages2M;
        }
        if (host.RamAvailable < ram || host.BwAvailable < bw || host.HugepagesFree < vm.Hugepages2M) return false;
        host.RamAvailable -= ram;
        host.BwAvailable -= bw;
        host.HugepagesFree -= vm.Hugepages2M;
        host.Reserved[v] = (ram, bw);
        return true;
    }

    private void Release(SimHost host, int v)
    {
        if (!host.Reserved.Remove(v, out var r)) return;
        host.RamAvailable += r.Ram;
        host.BwAvailable += r.Bw;
        host.HugepagesFree += Vms[v].Hugepages2M;
    }

    public void VmDestroy(int h, int v)
    {
        var host = Hosts[h];
        Release(host, v);
        host.Scheduler.Deallocate(v);
        host.Vms.Remove(v);
        Vms[v].Host = -1;
    }

    /// <summary>Host.addMigratingInVm: the target reserves the VM (10 % of its CPU) and both ends update.</summary>
    public void AddMigratingIn(int h, int v)
    {
        var host = Hosts[h];
        var vm = Vms[v];
        vm.InMigration = true;
        if (host.MigratingIn.Contains(v)) return;
        Reserve(host, v, vm);
        host.Scheduler.AddMigratingIn(v);
        host.Scheduler.Allocate(v, vm.RequestedMips, inMigration: true, vm.Pes);
        host.MigratingIn.Add(v);
        host.Vms.Add(v);
        UpdateHost(h, Clock);
        if (vm.Host >= 0) UpdateHost(vm.Host, Clock);
    }

    /// <summary>Datacenter.processVmMigrate: off the source, out of the target's incoming list, created on the target.</summary>
    public void CompleteMigration(int v, int target)
    {
        var vm = Vms[v];
        if (vm.Host >= 0) VmDestroy(vm.Host, v);
        var host = Hosts[target];
        Release(host, v);
        host.Scheduler.Deallocate(v);
        host.MigratingIn.Remove(v);
        host.Vms.Remove(v);
        host.Scheduler.RemoveMigratingIn(v);
        vm.InMigration = false;
        if (!VmCreate(target, v)) throw new InvalidOperationException($"VM {vm.Name} could not be created on host {target} after migrating");
    }

    /// <summary>A migration that did not converge (or whose VM left): the target lets go, the guest stays on its source.</summary>
    public void AbortMigration(int v, int target)
    {
        var vm = Vms[v];
        var host = Hosts[target];
        Release(host, v);
        host.Scheduler.Deallocate(v);
        host.MigratingIn.Remove(v);
        host.Vms.Remove(v);
        host.Scheduler.RemoveMigratingIn(v);
        vm.InMigration = false;
        UpdateHost(target, Clock);
        if (vm.Host >= 0) UpdateHost(vm.Host, Clock);
    }

    private double _samplingTime = double.NaN;
    private SamplePosition _position = new(double.NaN, 0, false, 0, 0, 0);
    private bool _sampling;

    /// <summary>HostDynamicWorkload.updateVmsProcessing: process, sample history, re-share the CPU, record state.</summary>
    /// <returns>False when the host was skipped: empty and idle before and after.</returns>
    public bool UpdateHost(int h, double time)
    {
        var host = Hosts[h];
        // An empty host that was already empty and idle would only record another idle sample, which changes
        // no metric (idle time counts for nothing, and it is no new shutdown); skipping it keeps updates O(active).
        if (host.Vms.Count == 0 && host.UtilizationMips == 0 && host.PreviousUtilizationMips == 0 && host.State.HasEntries) return false;
        // PowerVm samples its history once per scheduling interval (CloudSim's "(t − 0.1) % 300 == 0").
        if (time != _samplingTime) { _samplingTime = time; _sampling = (time - Options.StartOffset) % Options.Interval == 0; }
        var sampling = _sampling;
        foreach (var v in host.Vms)
        {
            var vm = Vms[v];
            var local = vm.LocalTime(time);
            if (local != _position.Time || vm.Workload.Interval != _position.Interval || double.IsNaN(_position.Time))
                _position = SamplePosition.Of(local, vm.Workload.Interval);
            vm.Process(time, _position);
            if (sampling && time > vm.SampledAt)
            {
                var u = vm.CurrentUtilization;
                if (time != 0 || u != 0) vm.AddHistory(u);
                vm.SampledAt = time;
            }
        }
        host.PreviousUtilizationMips = host.UtilizationMips;
        host.UtilizationMips = 0;
        var requestedTotal = 0.0;
        var scheduler = host.Scheduler;
        scheduler.DeallocateAll();
        var vms = host.Vms;
        for (var i = 0; i < vms.Count; i++)
        {
            var vm = Vms[vms[i]];
            scheduler.AllocateNew(vms[i], vm.RequestedMips, vm.InMigration, vm.Pes);
        }
        var anyIncoming = host.MigratingIn.Count > 0;
        for (var i = 0; i < vms.Count; i++)
        {
            var v = vms[i];
            var vm = Vms[v];
            var requested = vm.RequestedMips;
            var allocated = scheduler.AllocatedAt(i); // allocated just now, in this same order
            if (!anyIncoming || !host.MigratingIn.Contains(v))
            {
                vm.State.Add(time, allocated, requested, vm.InMigration);
                if (vm.InMigration) allocated /= 0.9;
            }
            host.UtilizationMips += allocated;
            requestedTotal += requested;
        }
        host.State.Add(time, host.UtilizationMips, requestedTotal, host.UtilizationMips > 0);
        return true;
    }

    // ---- the adaptive heuristics' port ----------------------------------------------------------------

    private List<(int Host, int Vm)> _saved = [];

    public int HostCount => Hosts.Length;
    public double HostTotalMips(int host) => Hosts[host].TotalMips;
    public double HostUtilizationMips(int host) => Hosts[host].UtilizationMips;

    public bool TryPower(int host, double utilization, out double watts)
    {
        watts = 0;
        if (utilization < 0 || utilization > 1) return false;
        watts = Hosts[host].Type.Power.At(utilization);
        return true;
    }

    /// <summary>Native mode: a host in standby draws its standby watts, a booting one idle power.</summary>
    public bool TryPowerNow(int host, double utilization, out double watts)
    {
        var h = Hosts[host];
        if (Options.CloudSimCompat || h.Power == HostPower.On) return TryPower(host, utilization, out watts);
        watts = h.Power == HostPower.Booting ? h.Type.Power.IdleWatts : h.Type.Power.StandbyWatts;
        return true;
    }

    public double MaxVmMigrationSeconds(int host)
    {
        var max = int.MinValue;
        foreach (var v in Hosts[host].Vms) max = Math.Max(max, Vms[v].Ram);
        return max / (Hosts[host].Type.BwKbps / (2 * 8000.0));
    }

    public double VmMigrationSeconds(int host, int vm) => Vms[vm].Ram / (Hosts[host].Type.BwKbps / (2 * 8000.0));

    public IReadOnlyList<int> VmsOn(int host) => Hosts[host].Vms;

    /// <summary>An empty, idle host is interchangeable with every other such host of its type and power state.</summary>
    public int InterchangeableClass(int host)
    {
        var h = Hosts[host];
        if (h.Vms.Count > 0 || h.MigratingIn.Count > 0 || h.UtilizationMips != 0) return -1;
        return h.TypeIndex * 3 + (int)h.Power;
    }

    public bool IsSuitable(int host, int vm)
    {
        var h = Hosts[host];
        var v = Vms[vm];
        var requested = v.RequestedMips;
        return h.Scheduler.PeMips >= requested / v.Pes && h.Scheduler.Available >= requested
               && h.RamAvailable + ReservedRam(h, vm) >= RequestedRam(v) && h.BwAvailable + ReservedBw(h, vm) >= RequestedBw(v)
               && (v.Hugepages2M == 0 || h.HugepagesFree + ReservedHugepages(h, vm) >= v.Hugepages2M);
    }

    private static int ReservedRam(SimHost h, int vm) => h.Reserved.TryGetValue(vm, out var r) ? r.Ram : 0;
    private int ReservedHugepages(SimHost h, int vm) => h.Reserved.ContainsKey(vm) ? Vms[vm].Hugepages2M : 0;
    private static long ReservedBw(SimHost h, int vm) => h.Reserved.TryGetValue(vm, out var r) ? r.Bw : 0;

    public bool Create(int host, int vm) => VmCreate(host, vm);
    public void Destroy(int host, int vm) => VmDestroy(host, vm);
    public bool IsMigratingIn(int host, int vm) => Hosts[host].MigratingIn.Contains(vm);

    public double HostAllocatedMips(int host)
    {
        var h = Hosts[host];
        if (h.AllocatedVersion == h.Scheduler.Version) return h.AllocatedMips;
        var mips = 0.0;
        foreach (var v in h.Vms) // summed in the host's order, as CloudSim does, so ties break identically
        {
            var allocated = h.Scheduler.AllocatedFor(v);
            if (h.MigratingIn.Contains(v)) mips += allocated * 0.9 / 0.1;
            mips += allocated;
        }
        h.AllocatedVersion = h.Scheduler.Version;
        return h.AllocatedMips = mips;
    }

    public bool InMigration(int vm) => Vms[vm].InMigration;
    public double VmMips(int vm) => Vms[vm].Mips;
    public double VmRam(int vm) => Vms[vm].Ram;
    public double VmRequestedMips(int vm) => Vms[vm].RequestedMips;
    public double VmCurrentMips(int vm) => Vms[vm].MipsAt(Clock);
    public ReadOnlySpan<double> VmHistory(int vm) => Vms[vm].History;

    public void SaveAllocation()
    {
        _saved.Clear();
        for (var h = 0; h < Hosts.Length; h++)
            foreach (var v in Hosts[h].Vms)
                if (!Hosts[h].MigratingIn.Contains(v)) _saved.Add((h, v));
    }

    /// <summary>CloudSim's restoreAllocation: every host emptied, incoming migrations re-reserved, saved VMs re-created.</summary>
    public void RestoreAllocation()
    {
        foreach (var host in Hosts)
        {
            foreach (var v in host.Vms) Vms[v].Host = -1;
            host.Vms.Clear();
            host.Reserved.Clear();
            host.RamAvailable = host.Type.RamMiB;
            host.BwAvailable = host.Type.BwKbps;
            host.HugepagesFree = host.Type.Hugepages2M;
            host.Scheduler.DeallocateAll();
            foreach (var v in host.MigratingIn)
            {
                if (!host.Vms.Contains(v)) host.Vms.Add(v);
                host.Scheduler.AddMigratingIn(v);
                Reserve(host, v, Vms[v]);
                host.Scheduler.Allocate(v, Vms[v].RequestedMips, Vms[v].InMigration, Vms[v].Pes);
            }
        }
        foreach (var (h, v) in _saved)
            if (!VmCreate(h, v)) throw new InvalidOperationException($"could not restore VM {Vms[v].Name} on host {h}");
    }
}
