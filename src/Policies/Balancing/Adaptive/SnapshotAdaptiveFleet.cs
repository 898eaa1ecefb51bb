using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// The adaptive heuristics' port over a live fleet's working state. A VM's "MIPS" is its vCPUs at its
/// host's MHz per thread and its history is its measured CPU over that; suitability is every mandatory
/// constraint plus free CPU. Tentative placements go through the placement state, so capacity, hugepages
/// and devices are counted exactly as for any other placement.
/// </summary>
public sealed class SnapshotAdaptiveFleet : IAdaptiveFleet
{
    private static readonly PowerModel DefaultPower = PowerModel.Linear(100, 250);

    private readonly PlacementEngine _engine;
    private readonly PlacementState _s;
    private readonly Guest[] _guests;
    private readonly double[] _mips;
    private readonly double[][] _history;
    private readonly int[] _home;
    // Where each VM is created now; during consolidation a VM exists on its home and its target at once.
    private readonly List<int>[] _placedOn;
    private readonly List<int>[] _vmsOn;
    private readonly double[] _measured;
    private readonly double[] _migrationSeconds;
    private readonly GuestDemand?[] _homeDemand;

    public SnapshotAdaptiveFleet(PlacementEngine engine, MigrationLink link)
    {
        _engine = engine;
        _s = engine.State;
        var n = _s.HostCount;
        _vmsOn = new List<int>[n];
        _measured = new double[n];
        var guests = new List<Guest>();
        var homes = new List<int>();
        for (var h = 0; h < n; h++)
        {
            _vmsOn[h] = [];
            // A host that is off or in maintenance is "switched off" to the heuristics: measured use 0.
            _measured[h] = _s.Accepts(h) ? _s.CpuUsedMhz[h] : 0;
            foreach (var g in _s.GuestsOn(h))
            {
                _vmsOn[h].Add(guests.Count);
                guests.Add(g);
                homes.Add(h);
            }
        }
        _guests = [.. guests];
        _home = [.. homes];
        _placedOn = [.. homes.Select(h => new List<int>(2) { h })];
        _mips = new double[_guests.Length];
        _history = new double[_guests.Length][];
        _migrationSeconds = new double[_guests.Length];
        _homeDemand = new GuestDemand?[_guests.Length];
        var limit = engine.Policy.Migration.BandwidthMiBps;
        for (var v = 0; v < _guests.Length; v++)
        {
            var g = _guests[v];
            _mips[v] = g.VCpus * _s.Hosts[_home[v]].Cpu.MhzPerThread;
            var cpu = g.Usage.CpuMhz;
            var count = Math.Min(HostHistory.Length, cpu.IsDefaultOrEmpty ? 0 : cpu.Length);
            var history = new double[count];
            for (var i = 0; i < count; i++) history[i] = cpu[cpu.Length - 1 - i] / _mips[v];
            _history[v] = history;
            // LR only needs the horizon in whole sample intervals: a first pass of RAM over the link is enough
            // (CloudSim uses RAM / half the bandwidth); the full pre-copy model prices the moves in the plan.
            var throughput = limit > 0 ? Math.Min(limit, link.ThroughputMiBps) : link.ThroughputMiBps;
            _migrationSeconds[v] = g.MemoryMiB / throughput + link.SetupMs / 1000;
        }
    }

    public int HostCount => _s.HostCount;
    public int VmCount => _guests.Length;
    public Guest Guest(int vm) => _guests[vm];
    public int HomeOf(int vm) => _home[vm];

    public double HostTotalMips(int host) => _s.CpuCapacityMhz[host];
    public double HostUtilizationMips(int host) => _measured[host];


    public double MaxVmMigrationSeconds(int host)
    {
        var max = 0.0;
        foreach (var vm in _vmsOn[host]) max = Math.Max(max, _migrationSeconds[vm]);
        return max;
    }

    public double VmMigrationSeconds(int host, int vm) => _migrationSeconds[vm];

    public IReadOnlyList<int> VmsOn(int host) => _vmsOn[host];

    public bool IsSuitable(int host, int vm)
    {
        if (_s.CpuUsedMhz[host] + Requested(vm) > _s.CpuCapacityMhz[host]) return false;
        // The demand as seen from home is the same for every target; cache it (with its signature id).
        var d = _homeDemand[vm] ??= Demand(vm);
        return _engine.Admits(d, host);
    }

    public bool Create(int host, int vm)
    {
        _s.Add(Demand(vm, host), host, reserved: false);
        _vmsOn[host].Add(vm);
        _placedOn[vm].Add(host);
        return true;
    }

    public void Destroy(int host, int vm)
    {
        _s.Remove(Demand(vm, host), host, reserved: false);
        _vmsOn[host].Remove(vm);
        _placedOn[vm].Remove(host);
    }

    /// <summary>
    /// The guest as the constraints see it: on <paramref name="host"/>, or else migrating from its home host
    /// (so migration rules — NX match, no passthrough, block migration — apply to every target).
    /// </summary>
    private GuestDemand Demand(int vm, int host = -1) =>
        _s.Demand(_guests[vm] with { Host = _s.Hosts[host >= 0 ? host : _home[vm]].Name });

    public bool IsMigratingIn(int host, int vm) => false;
    public ReadOnlySpan<double> AllocatedMips => _s.CpuUsedMhz;
    public PowerModel HostPowerModel(int host) => _s.Hosts[host].PowerModel ?? DefaultPower;
    public bool InMigration(int vm) => _guests[vm].HasPassthrough; // never selected: it cannot move
    public double VmMips(int vm) => _mips[vm];
    public double VmRam(int vm) => _guests[vm].MemoryMiB;
    public double VmRequestedMips(int vm) => Requested(vm);
    public double VmCurrentMips(int vm) => Requested(vm);

    /// <summary>Its latest sample; a guest never sampled asks for all of it (as a new VM does in CloudSim).</summary>
    private double Requested(int vm) => _guests[vm].Usage.Samples > 0 ? _guests[vm].Usage.LastCpuMhz : _mips[vm];
    public ReadOnlySpan<double> VmHistory(int vm) => _history[vm];

    public void SaveAllocation() { }

    /// <summary>Undoes every tentative placement: each VM exists on its home host only.</summary>
    public void RestoreAllocation()
    {
        for (var vm = 0; vm < _guests.Length; vm++)
        {
            var on = _placedOn[vm];
            if (on.Count == 1 && on[0] == _home[vm]) continue;
            foreach (var h in on.Where(h => h != _home[vm]).ToList()) Destroy(h, vm);
            if (!on.Contains(_home[vm])) Create(_home[vm], vm);
        }
    }
}
