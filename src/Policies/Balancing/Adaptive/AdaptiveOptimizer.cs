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
    private Model.PowerModel[] _models = [];

    /// <summary>Samples every host's current power; called at the start of each decision (Optimize does it).</summary>
    public void Measure(IAdaptiveFleet fleet)
    {
        var n = fleet.HostCount;
        if (_powerNow.Length != n) { _powerNow = new double[n]; _totalMips = new double[n]; _models = new Model.PowerModel[n]; }
        for (var h = 0; h < n; h++)
        {
            _powerNow[h] = fleet.TryPowerNow(h, Utilization(fleet, h), out var w) ? w : double.NaN;
            _totalMips[h] = fleet.HostTotalMips(h);
            _models[h] = fleet.HostPowerModel(h);
        }
    }

    /// <summary>PABFD: the suitable host whose power grows least, skipping active hosts the VM would overload.</summary>
    public int FindHost(IAdaptiveFleet fleet, int vm, bool[] excluded) =>
        FindHost(fleet, vm, excluded, new CandidateHosts(fleet, excluded).Hosts);

    /// <summary>
    /// Places VMs one after another on the fleet as it is now (arrivals, the initial placement): measured once,
    /// with one candidate list kept current, so a batch costs one pass per VM over the busy hosts.
    /// </summary>
    public sealed class Placer
    {
        private readonly AdaptiveOptimizer _optimizer;
        private readonly IAdaptiveFleet _fleet;
        private readonly bool[] _excluded;
        private readonly CandidateHosts _candidates;
        // VMs still to place, by shape, in batch order: a host that can take none of the shapes left can never be
        // chosen again in this batch, so it leaves the candidates (a full host then costs nothing).
        private readonly Dictionary<int, Queue<int>> _shapes = [];

        internal Placer(AdaptiveOptimizer optimizer, IAdaptiveFleet fleet, IEnumerable<int> batch)
        {
            (_optimizer, _fleet) = (optimizer, fleet);
            optimizer.Measure(fleet);
            _excluded = new bool[fleet.HostCount];
            _candidates = new CandidateHosts(fleet, _excluded);
            foreach (var vm in batch)
            {
                var shape = fleet.VmShape(vm);
                if (!_shapes.TryGetValue(shape, out var queue)) _shapes[shape] = queue = new Queue<int>();
                queue.Enqueue(vm);
            }
        }

        /// <summary>Where PABFD puts the VM, or −1. The VMs of the batch are asked about in batch order.</summary>
        public int Find(int vm)
        {
            var host = _optimizer.FindHost(_fleet, vm, _excluded, _candidates.Hosts);
            var shape = _fleet.VmShape(vm);
            if (_shapes.TryGetValue(shape, out var queue))
            {
                if (queue.TryPeek(out var next) && next == vm) queue.Dequeue();
                else _shapes.Remove(shape); // out of order: stop pruning on this shape's account
                if (queue.Count == 0) _shapes.Remove(shape);
            }
            return host;
        }

        /// <summary>The caller created a VM on <paramref name="host"/> (and let the host settle).</summary>
        public void Placed(int host)
        {
            _candidates.Placed(host);
            foreach (var queue in _shapes.Values)
                if (_fleet.IsSuitable(host, queue.Peek())) return;
            if (_shapes.Count > 0) _candidates.Remove(host);
        }
    }

    /// <summary>Starts placing <paramref name="batch"/> (each VM passed to <see cref="Placer.Find"/> once).</summary>
    public Placer StartPlacement(IAdaptiveFleet fleet, IEnumerable<int> batch) => new(this, fleet, batch);

    private const int Shortlist = 8;
    private readonly (double Diff, int Host)[] _top = new (double, int)[Shortlist];

    /// <summary>
    /// CloudSim scans hosts in order and keeps the first with the strictly smallest power increase among
    /// those that pass its filters — the minimum of (increase, host number) over the suitable hosts. The
    /// increases are cheap and the filters are not, so: price every candidate, keep the best few, test them
    /// best first and stop at the first that passes (price again, without those, if none does).
    /// </summary>
    /// <param name="candidates">Hosts worth looking at, in any order; every other host must be unable to win
    /// (excluded, or interchangeable with a candidate of a lower number).</param>
    private int FindHost(IAdaptiveFleet fleet, int vm, bool[] excluded, List<int> candidates)
    {
        if (_powerNow.Length != fleet.HostCount) Measure(fleet);
        var request = fleet.VmRequestedMips(vm);
        var count = candidates.Count >= ParallelFrom && Workers > 1 && fleet.SafeForConcurrentReads
            ? ShortlistInParallel(fleet, vm, request, excluded, candidates)
            : ShortlistOf(fleet, vm, request, excluded, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(candidates), _top);
        var allocated = fleet.AllocatedMips;
        for (var i = 0; i < count; i++)
            if (!(fleet.AllocatedMips[_top[i].Host] != 0 && OverloadedWith(fleet, _top[i].Host, vm))) return _top[i].Host;
        if (count < Shortlist) return -1; // every suitable host has been tested

        // The best few all failed (full hosts, or hosts it would overload). Of the rest only suitable hosts can
        // win; the suitability test is cheap next to the overload test, so filter by it and order what is left.
        _priced.Clear();
        allocated = fleet.AllocatedMips;
        var last = _top[Shortlist - 1];
        foreach (var h in candidates)
            if (TryPrice(h, request, excluded, allocated, out var diff) && Before(last.Diff, last.Host, (diff, h)) && fleet.IsSuitable(h, vm))
                _priced.Add((diff, h));
        _priced.Sort(static (a, b) => a.Diff != b.Diff ? a.Diff.CompareTo(b.Diff) : a.Host.CompareTo(b.Host));
        foreach (var (_, host) in _priced)
            if (!(fleet.AllocatedMips[host] != 0 && OverloadedWith(fleet, host, vm))) return host;
        return -1;
    }

    /// <summary>The best few suitable candidates by (power increase, host number), best first; returns how many.</summary>
    private int ShortlistOf(IAdaptiveFleet fleet, int vm, double request, bool[] excluded, ReadOnlySpan<int> candidates, (double Diff, int Host)[] top)
    {
        var count = 0;
        var allocated = fleet.AllocatedMips;
        foreach (var h in candidates)
        {
            if (!TryPrice(h, request, excluded, allocated, out var diff)) continue;
            if (count == Shortlist && !Before(diff, h, top[Shortlist - 1])) continue;
            // Only suitable hosts can win; the test is cheap, and worth it only for hosts that would make the list.
            if (!fleet.IsSuitable(h, vm)) continue;
            var k = count < Shortlist ? count++ : Shortlist - 1;
            while (k > 0 && Before(diff, h, top[k - 1])) { top[k] = top[k - 1]; k--; }
            top[k] = (diff, h);
        }
        return count;
    }

    // Thousands of candidates (a large fleet): each core shortlists a share, and the shortlists are merged by the
    // same order, so the result does not depend on how the work was split. Pricing only reads the fleet.
    private const int ParallelFrom = 4096;
    private static readonly int Workers = Math.Min(Environment.ProcessorCount, 8);
    private readonly (double Diff, int Host)[][] _workerTops = [.. Enumerable.Range(0, Workers).Select(_ => new (double, int)[Shortlist])];
    private readonly int[] _workerCounts = new int[Workers];

    private int ShortlistInParallel(IAdaptiveFleet fleet, int vm, double request, bool[] excluded, List<int> candidates)
    {
        var n = candidates.Count;
        Parallel.For(0, Workers, w =>
        {
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(candidates)[(n * w / Workers)..(n * (w + 1) / Workers)];
            _workerCounts[w] = ShortlistOf(fleet, vm, request, excluded, span, _workerTops[w]);
        });
        var count = 0;
        for (var w = 0; w < Workers; w++)
            for (var i = 0; i < _workerCounts[w]; i++)
            {
                var (diff, h) = _workerTops[w][i];
                if (count == Shortlist && !Before(diff, h, _top[Shortlist - 1])) continue;
                var k = count < Shortlist ? count++ : Shortlist - 1;
                while (k > 0 && Before(diff, h, _top[k - 1])) { _top[k] = _top[k - 1]; k--; }
                _top[k] = (diff, h);
            }
        return count;
    }

    private bool TryPrice(int h, double request, bool[] excluded, ReadOnlySpan<double> allocated, out double diff)
    {
        diff = 0;
        if (excluded[h]) return false;
        var now = _powerNow[h];
        if (double.IsNaN(now)) return false;
        // CloudSim would stop at a utilisation outside 0..1; such a host cannot be chosen.
        var u = (allocated[h] + request) / _totalMips[h];
        if (!(u <= 1) || u < 0) return false;
        diff = _models[h].At(u) - now;
        return true;
    }

    private bool Passes(IAdaptiveFleet fleet, int host, int vm) =>
        fleet.IsSuitable(host, vm) && !(fleet.AllocatedMips[host] != 0 && OverloadedWith(fleet, host, vm));

    private readonly List<(double Diff, int Host)> _priced = [];

    private static bool Before(double diff, int host, (double Diff, int Host) other) =>
        diff < other.Diff || (diff == other.Diff && host < other.Host);

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
