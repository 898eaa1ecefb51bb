using KvmCluster.Policies.Balancing.Adaptive;
using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// The simulated hosts and VMs, with CloudSim's host operations (create, destroy, migrate in, update) and the
/// adaptive heuristics' port, so the simulator runs the very optimiser the live planner runs.
/// </summary>
public sealed class SimDatacenter(SimHost[] hosts, SimVm[] vms, SimOptions options) : IAdaptiveFleet
{
    public SimHost[] Hosts { get; } = hosts;
    // Per host, CPU allocated now with incoming VMs at their full request (CloudSim's getUtilizationOfCpuMips),
    // kept current after every change so PABFD can price thousands of hosts from one array.
    private readonly double[] _allocatedMips = new double[hosts.Length];
    public SimVm[] Vms { get; } = vms;
    public SimOptions Options { get; } = options;
    /// <summary>Native mode (not NPA): hosts integrate their own energy at each update.</summary>
    public bool PerHostEnergy { get; init; } = options.Model.HostsIntegrateOwnEnergy;
    public double Clock;

    // ---- CloudSim host operations --------------------------------------------------------------------

    private int RequestedRam(SimVm vm) => Options.Model.HoldsMemoryOnlyWhileCreating && !vm.BeingInstantiated ? 0 : vm.Ram;
    private long RequestedBw(SimVm vm) => Options.Model.HoldsMemoryOnlyWhileCreating && !vm.BeingInstantiated ? 0 : vm.Bw;

    public bool VmCreate(int h, int v)
    {
        var host = Hosts[h];
        var vm = Vms[v];
        if (!Reserve(host, v, vm)) return false;
        host.Scheduler.Allocate(v, vm.RequestedMips, vm.InMigration, vm.Pes);
        host.Vms.Add(v);
        vm.Host = h;
        if (host.Scheduler.Redistributed) RefreshAllocated(h);
        else
        {
            // Nobody else's share changed: the host's sum just gains this VM's, added last as a fresh sum would.
            _allocatedMips[h] += host.Scheduler.AllocatedFor(v);
            host.MaxVmRam = Math.Max(host.MaxVmRam, vm.Ram);
        }
        Invalidate(h);
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
        RefreshAllocated(h);
        Invalidate(h);
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
        Invalidate(h);
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
        Invalidate(target);
        UpdateHost(target, Clock);
        if (vm.Host >= 0) UpdateHost(vm.Host, Clock);
    }

    /// <summary>
    /// Processes every placed VM at <paramref name="time"/> in VM order — one sweep through memory instead of a
    /// jump per VM host by host; then <see cref="UpdateHost"/> with processed: true only re-shares the CPU.
    /// </summary>
    public void ProcessAll(double time)
    {
        _windows ??= new double[Hosts.Length * WindowLength];
        _windowLong ??= new bool[Hosts.Length];
        _windowValid ??= new bool[Hosts.Length];
        var sampling = (time - Options.StartOffset) % Options.Interval == 0;
        if (sampling) Array.Clear(_windowValid); // new samples: every window is stale until its host is updated
        if (!Parallel)
        {
            var cache = new PositionCache();
            foreach (var vm in Vms) if (vm.Host >= 0) Process(vm, time, sampling, ref cache);
            return;
        }
        // Native mode on a large fleet: VMs are independent here, so both cores take a share of them.
        System.Threading.Tasks.Parallel.For(0, Workers, w =>
        {
            var cache = new PositionCache();
            var (from, to) = Share(Vms.Length, w);
            for (var v = from; v < to; v++) if (Vms[v].Host >= 0) Process(Vms[v], time, sampling, ref cache);
        });
    }

    /// <summary>Updates hosts in parallel (native mode, large fleets); each host's update touches only its own state and VMs.</summary>
    public void UpdateHosts(double time, bool[] updated)
    {
        if (!Parallel)
        {
            for (var h = 0; h < Hosts.Length; h++) updated[h] = UpdateHost(h, time, processed: true);
            return;
        }
        System.Threading.Tasks.Parallel.For(0, Workers, w =>
        {
            var (from, to) = Share(Hosts.Length, w);
            for (var h = from; h < to; h++) updated[h] = UpdateHost(h, time, processed: true);
        });
    }

    /// <summary>Native runs of at least this many VMs use every core for the per-interval updates.</summary>
    public const int ParallelFromVms = 20_000;
    private bool Parallel => Options.Model.ParallelUpdates && Vms.Length >= ParallelFromVms && Workers > 1;
    private static readonly int Workers = Environment.ProcessorCount;
    private static (int From, int To) Share(int n, int worker) => (n * worker / Workers, n * (worker + 1) / Workers);

    /// <summary>Where the last VM's instant fell between samples: VMs on the same clock share it.</summary>
    private struct PositionCache
    {
        public SamplePosition Position;
        public PositionCache() => Position = new SamplePosition(double.NaN, 0, false, 0, 0, 0);
    }

    private const int WindowLength = 10;
    private double[]? _windows;
    private bool[]? _windowLong, _windowValid;

    public bool TryHostWindow(int host, Span<double> window, out bool longEnough)
    {
        longEnough = false;
        if (_windowValid is null || window.Length != WindowLength) return false;
        var row = _windows.AsSpan(host * WindowLength, WindowLength);
        if (!_windowValid[host])
        {
            // Summed in the host's VM order, exactly as HostHistory would, and kept until the host changes:
            // PABFD asks about the same host with one candidate VM after another.
            var h = Hosts[host];
            row.Clear();
            var isLong = false;
            foreach (var v in h.Vms)
            {
                var vm = Vms[v];
                var scale = vm.Mips / h.TotalMips;
                var history = vm.History;
                var n = Math.Min(history.Length, WindowLength);
                for (var i = 0; i < n; i++) row[i] += history[i] * scale;
                if (!isLong)
                    for (var i = WindowLength - 1; i < history.Length && i < HostHistory.Length; i++)
                        if (history[i] * scale != 0) { isLong = true; break; }
            }
            _windowLong![host] = isLong;
            _windowValid[host] = true;
        }
        row.CopyTo(window);
        longEnough = _windowLong![host];
        return true;
    }

    private void Invalidate(int host)
    {
        if (_windowValid is not null) _windowValid[host] = false;
    }

    // For single-host updates (events), on the simulation's own thread.
    private double _lastTime = double.NaN;
    private bool _lastSampling;
    private PositionCache _lastPosition = new();

    /// <summary>CloudSim's updateVmProcessing for one VM: its request now, and a history sample once per interval
    /// (PowerVm samples when "(t − 0.1) % 300 == 0").</summary>
    private static void Process(SimVm vm, double time, bool sampling, ref PositionCache cache)
    {
        var local = vm.LocalTime(time);
        if (local != cache.Position.Time || vm.Workload.Interval != cache.Position.Interval || double.IsNaN(cache.Position.Time))
            cache.Position = SamplePosition.Of(local, vm.Workload.Interval);
        vm.Process(time, cache.Position);
        if (sampling && time > vm.SampledAt)
        {
            var u = vm.CurrentUtilization;
            if (time != 0 || u != 0) vm.AddHistory(u);
            vm.SampledAt = time;
        }
    }

    /// <summary>HostDynamicWorkload.updateVmsProcessing: process, sample history, re-share the CPU, record state.</summary>
    /// <returns>False when the host was skipped: empty and idle before and after.</returns>
    /// <param name="processed">The host's VMs were already processed at <paramref name="time"/> (see <see cref="ProcessAll"/>).</param>
    public bool UpdateHost(int h, double time, bool processed = false)
    {
        var host = Hosts[h];
        // An empty host that was already empty and idle would only record another idle sample, which changes
        // no metric (idle time counts for nothing, and it is no new shutdown); skipping it keeps updates O(active).
        if (host.Vms.Count == 0 && host.UtilizationMips == 0 && host.PreviousUtilizationMips == 0 && host.State.HasEntries)
        {
            if (PerHostEnergy) SettleEnergy(host, time, 0);
            RefreshAllocated(h); // nothing on it (a cancelled migration may just have left)
            return false;
        }
        if (!processed && host.Vms.Count > 0)
        {
            // The sampling test and the sample position are the same for the host's VMs: worked out once.
            if (time != _lastTime) { _lastTime = time; _lastSampling = (time - Options.StartOffset) % Options.Interval == 0; }
            foreach (var v in host.Vms) Process(Vms[v], time, _lastSampling, ref _lastPosition);
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
        // One pass for the metrics, the measured use, what PABFD prices from (RefreshAllocated's sums), and the
        // host's newest utilisation samples for LR (summed in the host's order, as HostHistory would).
        double allocatedForPabfd = 0, requestedHere = 0;
        var maxRam = int.MinValue;
        // (Only when stale: between samples a host's window changes only when its VMs do, which marks it stale.)
        var sumWindow = _windows is not null && !_windowValid![h];
        var window = sumWindow ? _windows.AsSpan(h * WindowLength, WindowLength) : default;
        var windowLong = false;
        if (sumWindow) window.Clear();
        for (var i = 0; i < vms.Count; i++)
        {
            var v = vms[i];
            var vm = Vms[v];
            if (sumWindow)
            {
                var scale = vm.Mips / host.TotalMips;
                var history = vm.History;
                var n = Math.Min(history.Length, WindowLength);
                for (var k = 0; k < n; k++) window[k] += history[k] * scale;
                if (!windowLong)
                    for (var k = WindowLength - 1; k < history.Length && k < HostHistory.Length; k++)
                        if (history[k] * scale != 0) { windowLong = true; break; }
            }
            var requested = vm.RequestedMips;
            var allocated = scheduler.AllocatedAt(i); // allocated just now, in this same order
            var incoming = anyIncoming && host.MigratingIn.Contains(v);
            if (incoming) allocatedForPabfd += allocated * 0.9 / 0.1; // the same two additions, for the same rounding
            allocatedForPabfd += allocated;
            maxRam = Math.Max(maxRam, vm.Ram);
            if (!incoming)
            {
                vm.State.Add(time, allocated, requested, vm.InMigration);
                requestedHere += requested;
                if (vm.InMigration) allocated /= 0.9;
            }
            host.UtilizationMips += allocated;
            requestedTotal += requested;
        }
        host.State.Add(time, host.UtilizationMips, requestedTotal, host.UtilizationMips > 0);
        host.RequestedMipsHere = requestedHere;
        _allocatedMips[h] = allocatedForPabfd;
        host.MaxVmRam = maxRam;
        if (sumWindow) { _windowLong![h] = windowLong; _windowValid![h] = true; }
        if (PerHostEnergy) SettleEnergy(host, time, host.Utilization);
        return true;
    }

    /// <summary>
    /// Native mode: each host integrates its own energy from its last update to <paramref name="time"/> — the
    /// trapezoid of P(u) while on (idle power included), idle power while booting, standby watts while off —
    /// so an event need only update the hosts it touches.
    /// </summary>
    private static void SettleEnergy(SimHost host, double time, double uNow)
    {
        var dt = time - host.EnergyAt;
        if (dt > 0)
        {
            var model = host.Type.Power;
            host.EnergyJoules += host.Power switch
            {
                HostPower.Off => model.StandbyWatts * dt,
                HostPower.Booting => model.IdleWatts * dt,
                _ => (model.At(host.EnergyU) + model.At(uNow)) / 2 * dt,
            };
            host.EnergyAt = time;
        }
        host.EnergyU = uNow;
    }

    // ---- the adaptive heuristics' port ----------------------------------------------------------------

    private List<(int Host, int Vm)> _saved = [];

    public int HostCount => Hosts.Length;
    public bool SafeForConcurrentReads => true; // IsSuitable and the allocation arrays only read
    public double HostTotalMips(int host) => Hosts[host].TotalMips;
    public double HostUtilizationMips(int host) => Hosts[host].UtilizationMips;


    /// <summary>Native mode: a host in standby draws its standby watts, a booting one idle power.</summary>
    public bool TryPowerNow(int host, double utilization, out double watts)
    {
        var h = Hosts[host];
        if (!Options.Model.HasPowerStates || h.Power == HostPower.On) return ((IAdaptiveFleet)this).TryPower(host, utilization, out watts);
        watts = h.Power == HostPower.Booting ? h.Type.Power.IdleWatts : h.Type.Power.StandbyWatts;
        return true;
    }

    /// <summary>CloudSim's getMaximumVmMigrationTime: the largest RAM on the host over half its bandwidth.</summary>
    public double MaxVmMigrationSeconds(int host) => Hosts[host].MaxVmRam / (Hosts[host].Type.BwKbps / (2 * 8000.0));

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
        if (!(h.Scheduler.PeMips >= requested / v.Pes && h.Scheduler.Available >= requested)) return false;
        var ram = RequestedRam(v);
        var bw = RequestedBw(v);
        if (h.RamAvailable >= ram && h.BwAvailable >= bw && h.HugepagesFree >= v.Hugepages2M) return true;
        // Short of room: what the VM itself already holds there (CloudSim's provisioners count it back).
        if (v.Host != host && !h.MigratingIn.Contains(vm)) return false; // it holds nothing there
        return h.RamAvailable + ReservedRam(h, vm) >= ram && h.BwAvailable + ReservedBw(h, vm) >= bw
               && (v.Hugepages2M == 0 || h.HugepagesFree + ReservedHugepages(h, vm) >= v.Hugepages2M);
    }

    private static int ReservedRam(SimHost h, int vm) => h.Reserved.Count > 0 && h.Reserved.TryGetValue(vm, out var r) ? r.Ram : 0;
    private int ReservedHugepages(SimHost h, int vm) => h.Reserved.Count > 0 && h.Reserved.ContainsKey(vm) ? Vms[vm].Hugepages2M : 0;
    private static long ReservedBw(SimHost h, int vm) => h.Reserved.Count > 0 && h.Reserved.TryGetValue(vm, out var r) ? r.Bw : 0;

    public bool Create(int host, int vm) { Touch(host); Touch(Vms[vm].Host); return VmCreate(host, vm); }
    public void Destroy(int host, int vm) { Touch(host); Touch(Vms[vm].Host); VmDestroy(host, vm); }
    public bool IsMigratingIn(int host, int vm) => Hosts[host].MigratingIn.Contains(vm);

    public ReadOnlySpan<double> AllocatedMips => _allocatedMips;
    public double HostAllocatedMips(int host) => _allocatedMips[host];
    public KvmCluster.Policies.Model.PowerModel HostPowerModel(int host) => Hosts[host].Type.Power;

    /// <param name="inVmOrder">The scheduler holds the VMs in the host's order (just re-shared), so the i-th
    /// allocation is the i-th VM's and no search is needed.</param>
    private void RefreshAllocated(int host, bool inVmOrder = false)
    {
        var h = Hosts[host];
        var mips = 0.0;
        var maxRam = int.MinValue;
        for (var i = 0; i < h.Vms.Count; i++) // summed in the host's order, as CloudSim does, so ties break identically
        {
            var v = h.Vms[i];
            var allocated = inVmOrder ? h.Scheduler.AllocatedAt(i) : h.Scheduler.AllocatedFor(v);
            if (h.MigratingIn.Count > 0 && h.MigratingIn.Contains(v)) mips += allocated * 0.9 / 0.1;
            mips += allocated;
            maxRam = Math.Max(maxRam, Vms[v].Ram);
        }
        _allocatedMips[host] = mips;
        h.MaxVmRam = maxRam;
    }

    public bool InMigration(int vm) => Vms[vm].InMigration;

    private readonly Dictionary<(double, int, int, long, int), int> _shapeIds = [];
    private int[]? _shapeOf;

    /// <summary>VMs of equal size (MIPS, vCPUs, memory, bandwidth, hugepages) make equal demands of a host.</summary>
    public int VmShape(int vm)
    {
        _shapeOf ??= Enumerable.Repeat(-1, Vms.Length).ToArray();
        if (_shapeOf[vm] >= 0) return _shapeOf[vm];
        var v = Vms[vm];
        var key = (v.Mips, v.Pes, v.Ram, v.Bw, v.Hugepages2M);
        if (!_shapeIds.TryGetValue(key, out var id)) _shapeIds[key] = id = _shapeIds.Count;
        return _shapeOf[vm] = id;
    }
    public double VmMips(int vm) => Vms[vm].Mips;
    public double VmRam(int vm) => Vms[vm].Ram;
    public double VmRequestedMips(int vm) => Vms[vm].RequestedMips;
    public double VmCurrentMips(int vm) => Vms[vm].MipsAt(Clock);
    public ReadOnlySpan<double> VmHistory(int vm) => Vms[vm].History;

    // A decision creates and destroys VMs tentatively and then puts everything back. CloudSim rebuilds every
    // host; on a large fleet (native mode) only the hosts the decision touched are saved and rebuilt.
    private readonly Dictionary<int, List<int>> _touched = [];
    private bool _deciding;

    public void SaveAllocation()
    {
        _deciding = true;
        _touched.Clear();
        if (!Options.Model.UndoesWholeDatacenter) return;
        _saved.Clear();
        for (var h = 0; h < Hosts.Length; h++)
            foreach (var v in Hosts[h].Vms)
                if (!Hosts[h].MigratingIn.Contains(v)) _saved.Add((h, v));
    }

    /// <summary>Remembers a host's VMs before the decision first changes it (native mode).</summary>
    private void Touch(int h)
    {
        if (!_deciding || Options.Model.UndoesWholeDatacenter || h < 0 || _touched.ContainsKey(h)) return;
        var saved = new List<int>(Hosts[h].Vms.Count);
        foreach (var v in Hosts[h].Vms) if (!Hosts[h].MigratingIn.Contains(v)) saved.Add(v);
        _touched[h] = saved;
    }

    /// <summary>CloudSim's restoreAllocation: hosts emptied, incoming migrations re-reserved, saved VMs re-created.</summary>
    public void RestoreAllocation()
    {
        _deciding = false;
        if (Options.Model.UndoesWholeDatacenter)
        {
            for (var h = 0; h < Hosts.Length; h++) Empty(h);
            foreach (var (h, v) in _saved)
                if (!VmCreate(h, v)) throw new InvalidOperationException($"could not restore VM {Vms[v].Name} on host {h}");
            for (var h = 0; h < Hosts.Length; h++) RefreshAllocated(h);
            return;
        }
        var hosts = _touched.Keys.Order().ToList();
        foreach (var h in hosts) Empty(h);
        foreach (var h in hosts)
        {
            foreach (var v in _touched[h])
                if (!VmCreate(h, v)) throw new InvalidOperationException($"could not restore VM {Vms[v].Name} on host {h}");
            RefreshAllocated(h);
        }
        _touched.Clear();
    }

    private void Empty(int h)
    {
        var host = Hosts[h];
        Invalidate(h);
        foreach (var v in host.Vms) if (Vms[v].Host == h) Vms[v].Host = -1;
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
}
