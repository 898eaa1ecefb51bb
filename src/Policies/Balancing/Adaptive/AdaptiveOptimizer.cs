namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// One decision step of the Beloglazov–Buyya heuristics, with CloudSim 4.0's semantics:
/// 1. overload detection on every host; 2. VM selection on each overloaded host until it no longer is;
/// 3. power-aware best-fit decreasing placement (PABFD) of those VMs, never onto an overloaded source and
///    never making an active host overloaded; 4. under-load consolidation: repeatedly take the least-used
///    active host and move all its VMs elsewhere with PABFD, or none. Tentative placements are undone at the
///    end; the result is the list of moves, in decision order.
/// </summary>
public sealed class AdaptiveOptimizer(IOverloadDetector detector, IVmSelection selection)
{
    public IOverloadDetector Detector { get; } = detector;
    public IVmSelection Selection { get; } = selection;

    /// <param name="maxConsolidations">Under-used hosts to try per step; null is CloudSim's "until none is left".</param>
    /// <param name="consolidate">False skips step 4 (overload relief only).</param>
    public List<AdaptiveMove> Optimize(IAdaptiveFleet fleet, int? maxConsolidations = null, bool consolidate = true)
    {
        var n = fleet.HostCount;
        Measure(fleet);
        var overloaded = new List<int>();
        for (var h = 0; h < n; h++)
            if (Detector.IsOverloaded(fleet, h)) overloaded.Add(h);

        fleet.SaveAllocation();
        var toMigrate = new List<int>();
        var source = new Dictionary<int, int>();
        foreach (var h in overloaded)
        {
            while (Selection.Select(fleet, h) is { } vm)
            {
                toMigrate.Add(vm);
                source[vm] = h;
                fleet.Destroy(h, vm);
                if (!Detector.IsOverloaded(fleet, h)) break;
            }
        }

        var excluded = new bool[n];
        foreach (var h in overloaded) excluded[h] = true;
        var moves = new List<AdaptiveMove>();
        var candidates = toMigrate.Count > 0 ? new CandidateHosts(fleet, excluded) : null;
        foreach (var vm in SortedByCpu(fleet, toMigrate))
        {
            var host = FindHost(fleet, vm, excluded, candidates!.Hosts);
            if (host < 0) continue;
            fleet.Create(host, vm);
            candidates.Placed(host);
            moves.Add(new AdaptiveMove(vm, source[vm], host, AdaptiveReason.Overload));
        }

        if (consolidate) moves.AddRange(Consolidate(fleet, overloaded, maxConsolidations));
        fleet.RestoreAllocation();
        return moves;
    }

    private List<AdaptiveMove> Consolidate(IAdaptiveFleet fleet, List<int> overloaded, int? maxConsolidations)
    {
        var n = fleet.HostCount;
        var moves = new List<AdaptiveMove>();
        var excludedSource = new bool[n];
        var excludedTarget = new bool[n];
        var excludedCount = 0;
        void ExcludeSource(int h) { if (!excludedSource[h]) { excludedSource[h] = true; excludedCount++; } }
        foreach (var h in overloaded) { ExcludeSource(h); excludedTarget[h] = true; }
        // Hosts at 0 % are "switched off": neither sources nor targets. The rest is usually a small part of
        // the fleet, so sources and targets are looked for among these only.
        var active = new List<int>();
        for (var h = 0; h < n; h++)
            if (Utilization(fleet, h) == 0) { ExcludeSource(h); excludedTarget[h] = true; }
            else active.Add(h);

        var tried = 0;
        while (excludedCount < n && (maxConsolidations is null || tried < maxConsolidations))
        {
            var under = LeastUsed(fleet, excludedSource, active);
            if (under < 0) break;
            tried++;
            ExcludeSource(under);
            excludedTarget[under] = true;
            var vms = new List<int>();
            foreach (var vm in fleet.VmsOn(under)) if (!fleet.InMigration(vm)) vms.Add(vm);
            if (vms.Count == 0) continue;

            var placed = new List<AdaptiveMove>();
            foreach (var vm in SortedByCpu(fleet, vms))
            {
                var host = FindHost(fleet, vm, excludedTarget, active);
                if (host < 0)
                {
                    foreach (var p in placed) fleet.Destroy(p.Host, p.Vm); // all or nothing
                    placed.Clear();
                    break;
                }
                fleet.Create(host, vm);
                placed.Add(new AdaptiveMove(vm, under, host, AdaptiveReason.Consolidation));
            }
            foreach (var p in placed) ExcludeSource(p.Host);
            moves.AddRange(placed);
        }
        return moves;
    }

    // Measured use does not change within a decision (CloudSim samples it at the update), so per host the
    // current power is computed once per decision.
    private double[] _powerNow = [];
    private double[] _totalMips = [];

    /// <summary>Samples every host's current power; called at the start of each decision (Optimize does it).</summary>
    public void Measure(IAdaptiveFleet fleet)
    {
        var n = fleet.HostCount;
        if (_powerNow.Length != n) { _powerNow = new double[n]; _totalMips = new double[n]; }
        for (var h = 0; h < n; h++)
        {
            _powerNow[h] = fleet.TryPowerNow(h, Utilization(fleet, h), out var w) ? w : double.NaN;
            _totalMips[h] = fleet.HostTotalMips(h);
        }
    }

    /// <summary>PABFD: the suitable host whose power grows least, skipping active hosts the VM would overload.</summary>
    public int FindHost(IAdaptiveFleet fleet, int vm, bool[] excluded) =>
        FindHost(fleet, vm, excluded, new CandidateHosts(fleet, excluded).Hosts);

    /// <summary>
    /// CloudSim scans hosts in order and keeps the first with the strictly smallest power increase among
    /// those that pass its filters — the minimum of (increase, host number) over the suitable hosts. The
    /// increases are cheap and the filters are not, so: price every candidate, then test them best first
    /// and stop at the first that passes.
    /// </summary>
    /// <param name="candidates">Hosts worth looking at, in any order; every other host must be unable to win
    /// (excluded, or interchangeable with a candidate of a lower number).</param>
    private int FindHost(IAdaptiveFleet fleet, int vm, bool[] excluded, List<int> candidates)
    {
        if (_powerNow.Length != fleet.HostCount) Measure(fleet);
        var request = fleet.VmRequestedMips(vm);
        _priced.Clear();
        foreach (var h in candidates)
        {
            if (excluded[h] || double.IsNaN(_powerNow[h])) continue;
            var allocated = fleet.HostAllocatedMips(h);
            // CloudSim would stop at a utilisation outside 0..1; such a host cannot be chosen.
            var u = (allocated + request) / _totalMips[h];
            if (u > 1 || !fleet.TryPower(h, u, out var after)) continue;
            _priced.Add((after - _powerNow[h], h, allocated));
        }
        NFind++; NPriced += _priced.Count;
        while (_priced.Count > 0)
        {
            var best = 0;
            for (var i = 1; i < _priced.Count; i++)
            {
                var (d, h, _) = _priced[i];
                if (d < _priced[best].Diff || (d == _priced[best].Diff && h < _priced[best].Host)) best = i;
            }
            var (_, host, alloc) = _priced[best];
            NChecks++;
            if (fleet.IsSuitable(host, vm) && !(alloc != 0 && OverloadedWith(fleet, host, vm))) return host;
            _priced[best] = _priced[^1];
            _priced.RemoveAt(_priced.Count - 1);
        }
        return -1;
    }

    private readonly List<(double Diff, int Host, double Allocated)> _priced = [];
    public static long NFind, NPriced, NChecks;

    // CloudSim creates the VM on the host, asks the detector and destroys it again; the detector counting the
    // VM as an extra gives the same answer without touching the host.
    private bool OverloadedWith(IAdaptiveFleet fleet, int host, int vm) => Detector.IsOverloaded(fleet, host, vm);

    /// <summary>Measured utilisation, with CloudSim's rounding of 1 &lt; u &lt; 1.01 down to 1.</summary>
    public static double Utilization(IAdaptiveFleet fleet, int h)
    {
        var u = fleet.HostUtilizationMips(h) / fleet.HostTotalMips(h);
        return u > 1 && u < 1.01 ? 1 : u;
    }

    private static int LeastUsed(IAdaptiveFleet fleet, bool[] excluded, List<int> active)
    {
        var min = 1.0;
        var chosen = -1;
        foreach (var h in active)
        {
            if (excluded[h]) continue;
            var u = Utilization(fleet, h);
            if (u > 0 && u < min && !AllMigratingOutOrAnyIn(fleet, h)) { min = u; chosen = h; }
        }
        return chosen;
    }

    private static bool AllMigratingOutOrAnyIn(IAdaptiveFleet fleet, int h)
    {
        foreach (var vm in fleet.VmsOn(h))
        {
            if (!fleet.InMigration(vm)) return false;
            if (fleet.IsMigratingIn(h, vm)) return true;
        }
        return true;
    }

    /// <summary>Largest current CPU first; a stable sort, as Java's Collections.sort.</summary>
    private static List<int> SortedByCpu(IAdaptiveFleet fleet, List<int> vms)
    {
        var keyed = new (double Mips, int Index, int Vm)[vms.Count];
        for (var i = 0; i < keyed.Length; i++) keyed[i] = (fleet.VmCurrentMips(vms[i]), i, vms[i]);
        // Largest first; ties keep their order (Java's Collections.sort is stable).
        Array.Sort(keyed, static (a, b) => a.Mips != b.Mips ? b.Mips.CompareTo(a.Mips) : a.Index.CompareTo(b.Index));
        var sorted = new List<int>(keyed.Length);
        foreach (var k in keyed) sorted.Add(k.Vm);
        return sorted;
    }
}
