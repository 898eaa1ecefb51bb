namespace KvmCluster.Sim.Engine;

/// <summary>
/// CPU sharing on one host exactly as CloudSim's VmSchedulerTimeSharedOverSubscription: a VM's request is
/// capped at one PE per virtual CPU; a VM migrating out gets 90 % of its request, one migrating in 10 %; when
/// the requests do not fit, everyone is scaled down proportionally (and floored) and nothing is left available.
/// The quirks matter for parity and are kept: the migrating-out set is never cleared when a VM leaves, so a
/// VM that later migrates back in is treated as migrating out on that host.
/// Hosts carry a handful of VMs, so parallel lists (linear search) beat hashing and allocate nothing.
/// </summary>
/// <param name="host">This scheduler's host.</param>
/// <param name="migratingOutOn">Per VM, the hosts whose migrating-out set holds it (shared by all hosts). The
/// sets only grow over a run (CloudSim's quirk), but per VM the list stays short, so it is kept on the VM's side.</param>
public sealed class SimScheduler(double peMips, int pes, int host, List<int>?[] migratingOutOn)
{
    public double PeMips { get; } = peMips;
    public int Pes { get; } = pes;
    /// <summary>CloudSim's PeList.getTotalMips is an int.</summary>
    public double Capacity { get; } = (int)(peMips * pes);
    public double Available { get; private set; } = (int)(peMips * pes);

    // Per VM, in allocation order (CloudSim keeps a HashMap; only rounding could differ, and it does not here).
    private readonly List<int> _vms = new(8);
    private readonly List<double> _requested = new(8);
    private readonly List<int> _pes = new(8);
    private readonly List<double> _allocated = new(8);
    private readonly List<int> _migratingIn = new(2);

    /// <summary>The last allocation had to scale everyone down (so other VMs' allocations changed too).</summary>
    public bool Redistributed { get; private set; }

    public double AllocatedFor(int vm)
    {
        var i = _vms.IndexOf(vm);
        return i >= 0 ? _allocated[i] : 0;
    }

    /// <summary>The allocation of the i-th VM in allocation order.</summary>
    public double AllocatedAt(int i) => _allocated[i];

    public bool IsMigratingIn(int vm) => _migratingIn.Contains(vm);
    public void AddMigratingIn(int vm) { if (!_migratingIn.Contains(vm)) _migratingIn.Add(vm); }
    public void RemoveMigratingIn(int vm) { _migratingIn.Remove(vm); }

    /// <summary>allocatePesForVm(Vm, mips): keeps the migrating-out set in step with the VM's flag, then allocates.</summary>
    public void Allocate(int vm, double requested, bool inMigration, int pes = 1)
    {
        if (inMigration)
        {
            if (!_migratingIn.Contains(vm) && !IsMigratingOut(vm)) (migratingOutOn[vm] ??= new List<int>(2)).Add(host);
        }
        else if (IsMigratingOut(vm)) migratingOutOn[vm]!.Remove(host);
        var i = _vms.IndexOf(vm);
        if (i >= 0) { _requested[i] = requested; _pes[i] = pes; }
        else { _vms.Add(vm); _requested.Add(requested); _pes.Add(pes); _allocated.Add(0); i = _vms.Count - 1; }
        AllocateAt(i, _vms.Count);
    }

    /// <summary>Allocate for a VM known not to be in the scheduler (after DeallocateAll): no search.</summary>
    public void AllocateNew(int vm, double requested, bool inMigration, int pes)
    {
        if (inMigration)
        {
            if (!_migratingIn.Contains(vm) && !IsMigratingOut(vm)) (migratingOutOn[vm] ??= new List<int>(2)).Add(host);
        }
        else if (IsMigratingOut(vm)) migratingOutOn[vm]!.Remove(host);
        _vms.Add(vm); _requested.Add(requested); _pes.Add(pes); _allocated.Add(0);
        // A VM not in migration was just taken off the migrating-out set: no need to look it up again. (It may
        // still be in the migrating-in set — a second migration of it, started in the same round, in flight.)
        AllocateAt(_vms.Count - 1, _vms.Count, notMigratingOut: !inMigration);
    }

    private bool IsMigratingOut(int vm) => migratingOutOn[vm] is { Count: > 0 } hosts && hosts.Contains(host);

    private double Cap(double requested, int pes) => pes == 1
        ? (requested > PeMips ? PeMips : requested)
        : Math.Min(requested, PeMips * pes);

    /// <summary>
    /// allocatePesForVm(uid, mips) for the VM at index i, whose request is already recorded; the first
    /// <paramref name="inMap"/> VMs are those CloudSim's requested-MIPS map holds at that moment.
    /// </summary>
    private void AllocateAt(int i, int inMap, bool notMigratingOut = false)
    {
        Redistributed = false;
        var vm = _vms[i];
        var capped = Cap(_requested[i], _pes[i]);
        var total = capped;
        var incoming = _migratingIn.Count > 0 && _migratingIn.Contains(vm);
        if (incoming) total *= 0.1;
        if (Available >= total)
        {
            var alloc = capped;
            if (!notMigratingOut && IsMigratingOut(vm)) alloc *= 0.9;
            else if (incoming) alloc *= 0.1;
            _allocated[i] = alloc;
            Available -= total;
        }
        else { Redistribute(inMap); Redistributed = true; }
    }

    /// <summary>Scales the first <paramref name="count"/> VMs (those CloudSim's map holds now) to fit.</summary>
    private void Redistribute(int count)
    {
        var totalRequired = 0.0;
        for (var i = 0; i < count; i++)
        {
            var capped = Cap(_requested[i], _pes[i]);
            if (_migratingIn.Contains(_vms[i])) capped *= 0.1;
            totalRequired += capped;
        }
        var factor = Capacity / totalRequired;
        for (var i = 0; i < count; i++)
        {
            var vm = _vms[i];
            var mips = Cap(_requested[i], _pes[i]);
            if (IsMigratingOut(vm)) { mips *= factor; mips *= 0.9; }
            else if (_migratingIn.Contains(vm)) { mips *= 0.1; mips *= factor; }
            else mips *= factor;
            _allocated[i] = Math.Floor(mips);
        }
        for (var i = count; i < _vms.Count; i++) _allocated[i] = 0;
        Available = 0;
    }

    /// <summary>deallocatePesForVm: forget the VM and re-allocate everyone else from scratch, in order.</summary>
    public void Deallocate(int vm)
    {
        var i = _vms.IndexOf(vm);
        if (i >= 0) { _vms.RemoveAt(i); _requested.RemoveAt(i); _pes.RemoveAt(i); _allocated.RemoveAt(i); }
        Available = Capacity;
        for (var k = 0; k < _allocated.Count; k++) _allocated[k] = 0;
        for (var k = 0; k < _vms.Count; k++) AllocateAt(k, k + 1);
    }

    /// <summary>deallocatePesForAllVms: everything freed (the migrating sets stay, as in CloudSim).</summary>
    public void DeallocateAll()
    {
        _vms.Clear();
        _requested.Clear();
        _pes.Clear();
        _allocated.Clear();
        Available = Capacity;
    }
}
