namespace KvmCluster.Sim.Engine;

/// <summary>
/// CPU sharing on one host exactly as CloudSim's VmSchedulerTimeSharedOverSubscription (1-PE VMs): requests are
/// capped at one PE; a VM migrating out gets 90 % of its request, one migrating in 10 %; when the requests do
/// not fit, everyone is scaled down proportionally (and floored) and nothing is left available.
/// The quirks matter for parity and are kept: the migrating-out set is never cleared when a VM leaves, so a
/// VM that later migrates back in is treated as migrating out on that host.
/// </summary>
public sealed class SimScheduler(double peMips, int pes)
{
    public double PeMips { get; } = peMips;
    public int Pes { get; } = pes;
    /// <summary>CloudSim's PeList.getTotalMips is an int.</summary>
    public double Capacity { get; } = (int)(peMips * pes);
    public double Available { get; private set; } = (int)(peMips * pes);

    // Requested and allocated MIPS per VM, in allocation order (CloudSim: a HashMap; only rounding can differ).
    private readonly List<int> _vms = new(8);
    private readonly List<double> _requested = new(8);
    private readonly Dictionary<int, double> _allocated = new(8);
    public readonly HashSet<int> MigratingIn = new(4);
    public readonly HashSet<int> MigratingOut = new(4);

    public double AllocatedFor(int vm) => _allocated.TryGetValue(vm, out var a) ? a : 0;

    /// <summary>allocatePesForVm(Vm, mips): keeps the migrating-out set in step with the VM's flag, then allocates.</summary>
    public void Allocate(int vm, double requested, bool inMigration)
    {
        if (inMigration)
        {
            if (!MigratingIn.Contains(vm) && !MigratingOut.Contains(vm)) MigratingOut.Add(vm);
        }
        else MigratingOut.Remove(vm);
        AllocateInner(vm, requested);
    }

    private void AllocateInner(int vm, double requested)
    {
        var capped = requested > PeMips ? PeMips : requested;
        var i = _vms.IndexOf(vm);
        if (i >= 0) _requested[i] = requested;
        else { _vms.Add(vm); _requested.Add(requested); }
        var total = capped;
        if (MigratingIn.Contains(vm)) total *= 0.1;
        if (Available >= total)
        {
            var alloc = capped;
            if (MigratingOut.Contains(vm)) alloc *= 0.9;
            else if (MigratingIn.Contains(vm)) alloc *= 0.1;
            _allocated[vm] = alloc;
            Available -= total;
        }
        else Redistribute();
    }

    private void Redistribute()
    {
        var totalRequired = 0.0;
        for (var i = 0; i < _vms.Count; i++)
        {
            var capped = _requested[i] > PeMips ? PeMips : _requested[i];
            if (MigratingIn.Contains(_vms[i])) capped *= 0.1;
            totalRequired += capped;
        }
        var factor = Capacity / totalRequired;
        _allocated.Clear();
        for (var i = 0; i < _vms.Count; i++)
        {
            var vm = _vms[i];
            var mips = _requested[i] > PeMips ? PeMips : _requested[i];
            if (MigratingOut.Contains(vm)) { mips *= factor; mips *= 0.9; }
            else if (MigratingIn.Contains(vm)) { mips *= 0.1; mips *= factor; }
            else mips *= factor;
            _allocated[vm] = Math.Floor(mips);
        }
        Available = 0;
    }

    /// <summary>deallocatePesForVm: forget the VM and re-allocate everyone else from scratch.</summary>
    public void Deallocate(int vm)
    {
        var i = _vms.IndexOf(vm);
        if (i >= 0) { _vms.RemoveAt(i); _requested.RemoveAt(i); }
        _allocated.Clear();
        Available = Capacity;
        var vms = _vms.ToArray();
        var requested = _requested.ToArray();
        _vms.Clear();
        _requested.Clear();
        for (var k = 0; k < vms.Length; k++) AllocateInner(vms[k], requested[k]);
    }

    /// <summary>deallocatePesForAllVms: everything freed (the migrating sets stay, as in CloudSim).</summary>
    public void DeallocateAll()
    {
        _vms.Clear();
        _requested.Clear();
        _allocated.Clear();
        Available = Capacity;
    }
}
