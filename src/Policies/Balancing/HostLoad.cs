using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Balancing;

/// <summary>
/// Host load as balancers see it: CPU from the guests' measured usage (now or some samples ago) over the
/// host's capacity, memory from allocations over the host's general memory. Guests are taken from the
/// working state, so loads follow planned moves.
/// </summary>
public static class HostLoad
{
    /// <summary>CPU MHz a guest used <paramref name="samplesAgo"/> samples before the latest (its oldest sample if shorter).</summary>
    public static double GuestCpuMhz(Guest g, int samplesAgo)
    {
        var h = g.Usage.CpuMhz;
        if (h.IsDefaultOrEmpty) return 0;
        return samplesAgo < h.Length ? h[h.Length - 1 - samplesAgo] : h[0];
    }

    /// <summary>CPU utilisation (0..) of a host <paramref name="samplesAgo"/> samples before now.</summary>
    public static double Cpu(PlacementState s, int host, int samplesAgo = 0)
    {
        var cap = s.CpuCapacityMhz[host];
        if (cap <= 0) return 0;
        if (samplesAgo == 0) return s.CpuUsedMhz[host] / cap;
        var sum = 0.0;
        // A guest never sampled counts as busy on all its vCPUs, as in the state's current use (GuestDemand.CpuMhzOn).
        foreach (var g in s.GuestsOn(host)) sum += g.Usage.Samples > 0 ? GuestCpuMhz(g, samplesAgo) : g.VCpus * s.MhzPerThread[host];
        return sum / cap;
    }

    /// <summary>Memory allocation (0..) of a host's general memory, after over-commit.</summary>
    public static double Memory(PlacementState s, int host) => s.MemoryAllocation(host);

    /// <summary>How many samples of history the snapshot offers (the longest guest history).</summary>
    public static int HistoryDepth(PlacementState s) =>
        s.Snapshot.Guests.Select(g => g.Usage.CpuMhz.IsDefaultOrEmpty ? 0 : g.Usage.CpuMhz.Length).DefaultIfEmpty(0).Max();

    /// <summary>Samples a window of <paramref name="minutes"/> spans at the snapshot's sample interval (at least 1).</summary>
    public static int Samples(PlacementState s, double minutes) =>
        Math.Max(1, (int)Math.Ceiling(minutes * 60 / s.Snapshot.SampleIntervalSeconds));
}

/// <summary>
/// Running sums of per-host loads, so the normalised spread can be re-evaluated in O(1) for a hypothetical move.
/// Imbalance is Proxmox's: the coefficient of variation of the loads divided by its maximum √(n−1), so 0 is
/// perfectly even and 1 is everything on one host.
/// </summary>
public struct LoadSpread
{
    public double Sum;
    public double SumOfSquares;
    public int Count;

    public void Add(double x) { Sum += x; SumOfSquares += x * x; Count++; }

    /// <summary>The spread if one load changed from <paramref name="before"/> to <paramref name="after"/>.</summary>
    public readonly double With(double before, double after, double before2, double after2) =>
        Normalised(Sum - before + after - before2 + after2,
            SumOfSquares - before * before + after * after - before2 * before2 + after2 * after2, Count);

    public readonly double Value => Normalised(Sum, SumOfSquares, Count);

    public static double Normalised(double sum, double sumSq, int n)
    {
        if (n < 2 || sum <= 0) return 0;
        var mean = sum / n;
        var variance = Math.Max(0, sumSq / n - mean * mean);
        return Math.Sqrt(variance) / mean / Math.Sqrt(n - 1);
    }
}
