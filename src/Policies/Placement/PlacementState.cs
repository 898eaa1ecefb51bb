using KvmCluster.Policies.Classes;
using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Placement;

/// <summary>
/// The mutable working copy of a fleet that placement and planning consume: per-host resource counters
/// in flat arrays (so a 10,000-host scan stays in cache), indexes of guest names and labels, and the
/// host classes. Hosts are ordered by name, which makes every scan — and so every plan — deterministic.
/// </summary>
public sealed class PlacementState
{
    public FleetSnapshot Snapshot { get; }
    public Rules.Policy Policy { get; }
    public IReadOnlyList<Host> Hosts => _hosts;
    public HostClassIndex Classes { get; }

    private readonly Host[] _hosts;
    private readonly Dictionary<string, int> _hostIndex = new(StringComparer.Ordinal);

    public int[] HugepageSizes { get; }
    internal readonly double[] VcpuCapacity;
    internal readonly long[] VcpuUsed;
    internal readonly long[] VcpuReserved;
    internal readonly double[] MemoryCapacity;
    /// <summary>1 / capacity, so the hot scoring loops multiply instead of divide.</summary>
    internal readonly double[] InverseVcpuCapacity;
    internal readonly double[] InverseMemoryCapacity;
    internal readonly long[] MemoryUsed;
    internal readonly long[] MemoryReserved;
    /// <summary>[size index][host]: pages that can still be handed out (kernel free − kernel reserved − ours).</summary>
    internal readonly int[][] HugepagesAvailable;
    internal readonly int[][] HugepagesReserved;
    internal readonly double[] CpuCapacityMhz;
    internal readonly double[] CpuUsedMhz;
    internal readonly double[] MhzPerThread;
    internal readonly int[] GuestCount;
    internal readonly long[] LocalDiskFreeGiB;
    /// <summary>Per host: free passthrough devices per vendor:device id (null when the host has none).</summary>
    internal readonly Dictionary<string, int>?[] PciFree;
    /// <summary>Per host: free VFs per physical function (parallel to Host.Sriov).</summary>
    internal readonly int[]?[] VfsFree;
    private readonly bool[] _accepts;
    private readonly List<Guest>[] _guestsOn;

    private readonly Dictionary<string, List<int>> _hostsByGuestName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<int, int>> _guestLabelCounts = new(StringComparer.Ordinal);

    public PlacementState(FleetSnapshot snapshot, Rules.Policy policy)
    {
        Snapshot = snapshot;
        Policy = policy;
        _hosts = [.. snapshot.Hosts.OrderBy(h => h.Name, StringComparer.Ordinal)];
        var n = _hosts.Length;
        for (var i = 0; i < n; i++)
            if (!_hostIndex.TryAdd(_hosts[i].Name, i)) throw new ArgumentException($"host '{_hosts[i].Name}' appears twice");

        HugepageSizes = [.. _hosts.SelectMany(h => h.Hugepages.Select(p => p.PageSizeKiB)).Distinct().Order()];
        VcpuCapacity = new double[n]; VcpuUsed = new long[n]; VcpuReserved = new long[n];
        MemoryCapacity = new double[n]; MemoryUsed = new long[n]; MemoryReserved = new long[n];
        InverseVcpuCapacity = new double[n]; InverseMemoryCapacity = new double[n];
        HugepagesAvailable = [.. HugepageSizes.Select(_ => new int[n])];
        HugepagesReserved = [.. HugepageSizes.Select(_ => new int[n])];
        CpuCapacityMhz = new double[n]; CpuUsedMhz = new double[n]; MhzPerThread = new double[n];
        GuestCount = new int[n]; LocalDiskFreeGiB = new long[n];
        _accepts = new bool[n];
        _guestsOn = new List<Guest>[n];
        PciFree = new Dictionary<string, int>?[n];
        VfsFree = new int[]?[n];

        for (var i = 0; i < n; i++)
        {
            var h = _hosts[i];
            VcpuCapacity[i] = h.Cpu.Threads * policy.Overcommit.Cpu;
            MemoryCapacity[i] = h.GeneralMemoryMiB * policy.Overcommit.Memory;
            InverseVcpuCapacity[i] = 1 / Math.Max(1e-9, VcpuCapacity[i]);
            InverseMemoryCapacity[i] = 1 / Math.Max(1e-9, MemoryCapacity[i]);
            CpuCapacityMhz[i] = h.Cpu.CapacityMhz;
            MhzPerThread[i] = h.Cpu.MhzPerThread;
            _accepts[i] = h.AcceptsGuests;
            _guestsOn[i] = [];
            LocalDiskFreeGiB[i] = h.Storage.LocalFreeGiB;
            for (var s = 0; s < HugepageSizes.Length; s++)
                HugepagesAvailable[s][i] = h.Pool(HugepageSizes[s])?.Available ?? 0;
            if (h.PciDevices.Length > 0)
                PciFree[i] = h.PciDevices.Where(d => d.IsFree).GroupBy(d => d.VendorDevice).ToDictionary(g => g.Key, g => g.Count());
            if (h.Sriov.Length > 0)
                VfsFree[i] = [.. h.Sriov.Select(f => f.FreeVfs)];
        }

        Classes = new HostClassIndex(_hosts);
        PowerRangeWatts = _hosts.Select(h => h.PowerModel is { } m ? m.MaxWatts - m.IdleWatts : 0).DefaultIfEmpty(0).Max();
        if (PowerRangeWatts <= 0) PowerRangeWatts = 1;

        // Guests already running: their vCPUs, memory and CPU use count against their host. Hugepages, devices,
        // VFs and local disk are already reflected in the host's own free counters, so they are not subtracted twice.
        foreach (var g in snapshot.Guests)
        {
            if (g.Host is null || !_hostIndex.TryGetValue(g.Host, out var h)) continue;
            VcpuUsed[h] += g.VCpus;
            MemoryUsed[h] += g.GeneralMemoryMiB;
            CpuUsedMhz[h] += g.Usage.Samples > 0 ? g.Usage.LastCpuMhz : g.VCpus * MhzPerThread[h];
            GuestCount[h]++;
            IndexGuest(g, h, +1);
            _guestsOn[h].Add(g);
        }
    }

    /// <summary>The guests on a host now (running, reserved or planned to arrive), in arrival order.</summary>
    public IReadOnlyList<Guest> GuestsOn(int host) => _guestsOn[host];

    /// <summary>
    /// Moves a running guest to another host in this working copy (a planned migration) and returns the guest
    /// as it will be there. The snapshot is not touched.
    /// </summary>
    public Guest Move(Guest guest, int to)
    {
        var from = HostIndex(guest.Host ?? throw new ArgumentException($"guest {guest.Name} is not placed"));
        Remove(Demand(guest), from, reserved: false);
        var moved = guest with { Host = _hosts[to].Name };
        Add(Demand(moved), to, reserved: false);
        _journal.Add(new Change(moved, from, to, -1));
        return moved;
    }

    private readonly record struct Change(Guest? Moved, int From, int To, int Host, bool Accepted = false);
    private readonly List<Change> _journal = [];

    /// <summary>A point to come back to with <see cref="RollbackTo"/>: planned moves and host-state changes are journaled.</summary>
    public int Mark() => _journal.Count;

    /// <summary>Undoes every <see cref="Move"/> and <see cref="SetAccepting"/> since <paramref name="mark"/>, newest first.</summary>
    public void RollbackTo(int mark)
    {
        for (var i = _journal.Count - 1; i >= mark; i--)
        {
            var c = _journal[i];
            if (c.Moved is { } g)
            {
                Remove(Demand(g), c.To, reserved: false);
                Add(Demand(g with { Host = _hosts[c.From].Name }), c.From, reserved: false);
            }
            else _accepts[c.Host] = c.Accepted;
        }
        _journal.RemoveRange(mark, _journal.Count - mark);
    }

    public int HostCount => _hosts.Length;

    /// <summary>Widest idle-to-peak power range of any host, the common scale of power scores.</summary>
    public double PowerRangeWatts { get; }

    public bool TryGetHostIndex(string name, out int index) => _hostIndex.TryGetValue(name, out index);

    public int HostIndex(string name) =>
        _hostIndex.TryGetValue(name, out var i) ? i : throw new ArgumentException($"unknown host '{name}'");

    public int HugepageSizeIndex(int pageSizeKiB) => Array.IndexOf(HugepageSizes, pageSizeKiB);

    public GuestDemand Demand(Guest guest) => new(guest, this);

    public bool HostRunsGuestNamed(int host, string guestName) =>
        _hostsByGuestName.TryGetValue(guestName, out var hosts) && hosts.Contains(host);

    /// <summary>
    /// The live list of hosts running (or reserved for) a guest of this name. Created on first request and
    /// kept up to date afterwards, so a caller may hold it across placements.
    /// </summary>
    internal List<int> HostsRunning(string guestName)
    {
        if (!_hostsByGuestName.TryGetValue(guestName, out var hosts))
            _hostsByGuestName[guestName] = hosts = new List<int>(1);
        return hosts;
    }

    /// <summary>Whether the host takes guests now: powered on and not in maintenance. Planning may change it.</summary>
    public bool Accepts(int host) => _accepts[host];
    internal bool[] AcceptsArray => _accepts;

    public void SetAccepting(int host, bool accepts)
    {
        _journal.Add(new Change(null, -1, -1, host, _accepts[host]));
        _accepts[host] = accepts;
    }

    /// <summary>How many guests labelled <paramref name="selector"/> (key=value) run on (or are reserved for) a host.</summary>
    public int GuestsWithLabel(int host, string selector) =>
        _guestLabelCounts.TryGetValue(selector, out var perHost) && perHost.TryGetValue(host, out var c) ? c : 0;

    /// <summary>Hosts running (or reserved for) at least one guest labelled <paramref name="selector"/>.</summary>
    public IEnumerable<int> HostsWithLabel(string selector) =>
        _guestLabelCounts.TryGetValue(selector, out var perHost) ? perHost.Keys : [];

    public int GuestsWithLabelAnywhere(string selector) =>
        _guestLabelCounts.TryGetValue(selector, out var perHost) ? perHost.Values.Sum() : 0;

    /// <summary>Takes the guest's resources on a host: a reservation, a committed placement or a planned move's arrival.</summary>
    public void Add(GuestDemand d, int host, bool reserved)
    {
        VcpuUsed[host] += d.VCpus;
        MemoryUsed[host] += d.GeneralMemoryMiB;
        CpuUsedMhz[host] += d.CpuMhzOn(host, this);
        GuestCount[host]++;
        LocalDiskFreeGiB[host] -= d.LocalDiskGiB;
        if (d.HugepageSizeIndex >= 0) HugepagesAvailable[d.HugepageSizeIndex][host] -= d.HugepageCount;
        if (reserved)
        {
            VcpuReserved[host] += d.VCpus;
            MemoryReserved[host] += d.GeneralMemoryMiB;
            if (d.HugepageSizeIndex >= 0) HugepagesReserved[d.HugepageSizeIndex][host] += d.HugepageCount;
        }
        TakeDevices(d.Guest, host, -1);
        IndexGuest(d.Guest, host, +1);
        _guestsOn[host].Add(d.Guest.Host == _hosts[host].Name ? d.Guest : d.Guest with { Host = _hosts[host].Name });
    }

    /// <summary>Gives the guest's resources on a host back: a released reservation or a planned departure.</summary>
    public void Remove(GuestDemand d, int host, bool reserved)
    {
        VcpuUsed[host] -= d.VCpus;
        MemoryUsed[host] -= d.GeneralMemoryMiB;
        CpuUsedMhz[host] -= d.CpuMhzOn(host, this);
        GuestCount[host]--;
        LocalDiskFreeGiB[host] += d.LocalDiskGiB;
        if (d.HugepageSizeIndex >= 0) HugepagesAvailable[d.HugepageSizeIndex][host] += d.HugepageCount;
        if (reserved) Unreserve(d, host);
        TakeDevices(d.Guest, host, +1);
        IndexGuest(d.Guest, host, -1);
        var list = _guestsOn[host];
        for (var i = 0; i < list.Count; i++)
            if (list[i].Name == d.Guest.Name) { list.RemoveAt(i); break; }
    }

    /// <summary>A reservation became a running guest: the resources stay taken, they are just no longer pending.</summary>
    public void Unreserve(GuestDemand d, int host)
    {
        VcpuReserved[host] -= d.VCpus;
        MemoryReserved[host] -= d.GeneralMemoryMiB;
        if (d.HugepageSizeIndex >= 0) HugepagesReserved[d.HugepageSizeIndex][host] -= d.HugepageCount;
    }

    private void TakeDevices(Guest g, int host, int delta)
    {
        if (g.HasPassthrough && PciFree[host] is { } pci)
            foreach (var id in g.PciDevices)
                pci[id] = pci.GetValueOrDefault(id) + delta;
        if (g.SriovVfs > 0 && VfsFree[host] is { } vfs)
        {
            var fns = _hosts[host].Sriov;
            var left = g.SriovVfs;
            // Take from (or give back to) the first functions on the requested network, in order.
            for (var i = 0; i < fns.Length && left > 0; i++)
            {
                if (g.SriovNetwork is { } net && fns[i].Network != net) continue;
                var n = delta < 0 ? Math.Min(left, vfs[i]) : Math.Min(left, fns[i].TotalVfs - vfs[i]);
                vfs[i] += delta * n;
                left -= n;
            }
        }
    }

    private void IndexGuest(Guest g, int host, int delta)
    {
        var hosts = HostsRunning(g.Name);
        if (delta > 0) hosts.Add(host);
        else hosts.Remove(host);
        foreach (var (k, v) in g.Labels)
        {
            var selector = k + "=" + v;
            if (!_guestLabelCounts.TryGetValue(selector, out var perHost))
                _guestLabelCounts[selector] = perHost = [];
            var c = perHost.GetValueOrDefault(host) + delta;
            if (c <= 0) perHost.Remove(host); else perHost[host] = c;
        }
    }

    /// <summary>Free VFs a host has on the network (any network when null).</summary>
    public int FreeVfs(int host, string? network)
    {
        if (VfsFree[host] is not { } vfs) return 0;
        var fns = _hosts[host].Sriov;
        var sum = 0;
        for (var i = 0; i < fns.Length; i++)
            if (network is null || fns[i].Network == network) sum += vfs[i];
        return sum;
    }

    public double CpuUtilisation(int host) => CpuCapacityMhz[host] > 0 ? CpuUsedMhz[host] / CpuCapacityMhz[host] : 0;
    public double VcpuAllocation(int host) => VcpuCapacity[host] > 0 ? VcpuUsed[host] / VcpuCapacity[host] : 1;
    public double MemoryAllocation(int host) => MemoryCapacity[host] > 0 ? MemoryUsed[host] / MemoryCapacity[host] : 1;
    public int GuestCountOn(int host) => GuestCount[host];
    public long VcpusUsed(int host) => VcpuUsed[host];
    public long MemoryUsedMiB(int host) => MemoryUsed[host];
    public int HugepagesFree(int host, int sizeIndex) => HugepagesAvailable[sizeIndex][host];
}
