using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Balancing;

/// <summary>
/// Spreads CPU and memory load evenly over the hosts that take guests. Imbalance is Proxmox's normalised
/// coefficient of variation; it must exceed the DRS-like threshold (or a host must stay above the high-
/// utilisation mark) for the whole hold duration before anything moves. Each move is chosen by the
/// imbalance of the cluster state it produces, must cut imbalance by at least minImprovement of its
/// current value, prefers cheap (small) guests among near-equal choices, and never touches a guest
/// moved recently. Because every move strictly lowers imbalance, steady load cannot ping-pong.
/// </summary>
public sealed class EvenlyDistributedBalancer : IBalancer
{
    public string Name => "evenly-distributed";

    /// <summary>Imbalance tolerated at each threshold level (1 = only mandatory moves).</summary>
    public static double Tolerance(int threshold) => threshold switch
    {
        <= 1 => double.PositiveInfinity,
        2 => 0.30,
        3 => 0.20,
        4 => 0.10,
        _ => 0.05,
    };

    private const int SourceHosts = 8;        // consider guests on the most loaded hosts only
    private const int ShortList = 64;         // best hypothetical moves checked against the constraints
    private const int PerGuest = 4;           // at most this many of them per guest

    public BalancerResult Balance(PlacementEngine engine, PlanningContext context)
    {
        var result = new BalancerResult();
        var s = engine.State;
        var cfg = engine.Policy.EvenlyDistributed;
        var tolerance = Tolerance(cfg.Threshold);
        var high = cfg.HighUtilizationPercent / 100;
        var hosts = Enumerable.Range(0, s.HostCount).Where(s.Accepts).ToArray();
        if (hosts.Length < 2) { result.Notes.Add("fewer than two hosts take guests: nothing to balance"); return result; }

        var window = HostLoad.Samples(s, cfg.HoldMinutes);
        if (HostLoad.HistoryDepth(s) < window)
        {
            result.Notes.Add($"not enough usage history to judge a {cfg.HoldMinutes:0.#}-minute hold ({window} samples needed)");
            return result;
        }
        var now = Imbalance(s, hosts, 0, cfg);
        if (!Persistent(s, hosts, window, tolerance, high, cfg, out var trigger))
        {
            result.Notes.Add($"imbalance {now:0.000} (tolerance {Fmt(tolerance)} at threshold {cfg.Threshold}); no host above {cfg.HighUtilizationPercent:0}% for {cfg.HoldMinutes:0.#} min: nothing to do");
            return result;
        }
        result.Notes.Add(trigger);

        for (var round = 0; round < cfg.MaxMovesPerRound; round++)
        {
            var current = Imbalance(s, hosts, 0, cfg);
            var overloaded = hosts.Any(h => Load(s, h) > high);
            if (current <= tolerance && !overloaded) { result.Notes.Add($"imbalance {current:0.000} is within tolerance {Fmt(tolerance)}"); break; }
            if (BestMove(engine, hosts, cfg, current, context) is not { } move)
            {
                result.Notes.Add($"no move lowers imbalance {current:0.000} by at least {cfg.MinImprovement:P0}");
                break;
            }
            var from = s.HostIndex(move.Guest.Host!);
            var (cpuFrom, cpuTo) = (HostLoad.Cpu(s, from), HostLoad.Cpu(s, move.To));
            s.Move(move.Guest, move.To);
            var after = Imbalance(s, hosts, 0, cfg);
            result.Moves.Add(new ProposedMove(move.Guest, s.Hosts[from].Name, s.Hosts[move.To].Name,
            [
                $"imbalance {current:0.000} → {after:0.000}",
                $"{s.Hosts[from].Name} CPU {cpuFrom:P0} → {HostLoad.Cpu(s, from):P0}, memory {Mem(s, from, -move.Guest.GeneralMemoryMiB):P0} → {HostLoad.Memory(s, from):P0}; " +
                $"{s.Hosts[move.To].Name} CPU {cpuTo:P0} → {HostLoad.Cpu(s, move.To):P0}",
            ]));
        }
        return result;
    }

    private static string Fmt(double t) => double.IsInfinity(t) ? "∞" : t.ToString("0.00");

    private static double Mem(PlacementState s, int h, long delta) => (s.MemoryUsedMiB(h) - delta) / Math.Max(1e-9, s.MemoryCapacity[h]);

    /// <summary>The larger of CPU and memory utilisation.</summary>
    private static double Load(PlacementState s, int h) => Math.Max(HostLoad.Cpu(s, h), HostLoad.Memory(s, h));

    private static double LoadAfter(PlacementState s, int h, Guest g) => Math.Max(
        (s.CpuUsedMhz[h] + HostLoad.GuestCpuMhz(g, 0)) / s.CpuCapacityMhz[h],
        (s.MemoryUsedMiB(h) + g.GeneralMemoryMiB) / Math.Max(1e-9, s.MemoryCapacity[h]));

    /// <summary>Weighted imbalance of CPU (at the given age) and memory.</summary>
    public static double Imbalance(PlacementState s, IReadOnlyList<int> hosts, int samplesAgo, EvenlyDistributedSettings cfg)
    {
        LoadSpread cpu = default, mem = default;
        foreach (var h in hosts) { cpu.Add(HostLoad.Cpu(s, h, samplesAgo)); mem.Add(HostLoad.Memory(s, h)); }
        return (cfg.CpuWeight * cpu.Value + cfg.MemoryWeight * mem.Value) / (cfg.CpuWeight + cfg.MemoryWeight);
    }

    /// <summary>True when every sample of the hold window is imbalanced, or one host stays overloaded throughout.</summary>
    private static bool Persistent(PlacementState s, int[] hosts, int window, double tolerance, double high, EvenlyDistributedSettings cfg, out string why)
    {
        var imbalances = Enumerable.Range(0, window).Select(k => Imbalance(s, hosts, k, cfg)).ToList();
        if (imbalances.All(i => i > tolerance))
        {
            why = $"imbalance above tolerance {tolerance:0.00} (threshold {cfg.Threshold}) for {cfg.HoldMinutes:0.#} min: {string.Join(", ", imbalances.Select(i => i.ToString("0.000")))} (newest first)";
            return true;
        }
        foreach (var h in hosts)
        {
            if (Enumerable.Range(0, window).All(k => Math.Max(HostLoad.Cpu(s, h, k), HostLoad.Memory(s, h)) > high))
            {
                why = $"host {s.Hosts[h].Name} above {cfg.HighUtilizationPercent:0}% for {cfg.HoldMinutes:0.#} min (CPU {HostLoad.Cpu(s, h):P0}, memory {HostLoad.Memory(s, h):P0})";
                return true;
            }
        }
        why = "";
        return false;
    }

    private sealed record Candidate(Guest Guest, int To, double Score);

    /// <summary>The move whose resulting state is most even, among moves the constraints admit.</summary>
    private static Candidate? BestMove(PlacementEngine engine, int[] hosts, EvenlyDistributedSettings cfg, double current, PlanningContext context)
    {
        var s = engine.State;
        LoadSpread cpu = default, mem = default;
        foreach (var h in hosts) { cpu.Add(HostLoad.Cpu(s, h)); mem.Add(HostLoad.Memory(s, h)); }
        var wSum = cfg.CpuWeight + cfg.MemoryWeight;
        var maxMemory = Math.Max(1, s.Snapshot.Guests.Select(g => g.MemoryMiB).DefaultIfEmpty(1).Max());
        var sources = hosts.OrderByDescending(h => Load(s, h)).ThenBy(h => h).Take(SourceHosts).ToList();
        var best = new PriorityQueue<Candidate, (double, int, string)>();

        foreach (var from in sources)
        {
            foreach (var g in s.GuestsOn(from))
            {
                if (g.HasPassthrough || context.MovedRecently(g.Name)) continue;
                var dc = HostLoad.GuestCpuMhz(g, 0);
                var dm = (double)g.GeneralMemoryMiB;
                var cf0 = HostLoad.Cpu(s, from); var mf0 = HostLoad.Memory(s, from);
                var cf1 = (s.CpuUsedMhz[from] - dc) / s.CpuCapacityMhz[from]; var mf1 = (s.MemoryUsedMiB(from) - dm) / s.MemoryCapacity[from];
                // Each guest contributes its own few best destinations, so one unmovable guest cannot fill the list.
                var mine = new PriorityQueue<int, double>();
                foreach (var to in engine.StaticCandidates(s.Demand(g)))
                {
                    if (to == from || !s.Accepts(to)) continue;
                    var ct0 = HostLoad.Cpu(s, to); var mt0 = HostLoad.Memory(s, to);
                    var ct1 = (s.CpuUsedMhz[to] + dc) / s.CpuCapacityMhz[to]; var mt1 = (s.MemoryUsedMiB(to) + dm) / s.MemoryCapacity[to];
                    var after = (cfg.CpuWeight * cpu.With(cf0, cf1, ct0, ct1) + cfg.MemoryWeight * mem.With(mf0, mf1, mt0, mt1)) / wSum;
                    if (mine.Count == PerGuest && mine.TryPeek(out _, out var worstMine) && -after <= worstMine) continue;
                    mine.Enqueue(to, -after);
                    if (mine.Count > PerGuest) mine.Dequeue();
                }
                while (mine.TryDequeue(out var to, out var negAfter))
                {
                    var after = -negAfter;
                    // A small penalty for memory to copy makes the cheaper of two near-equal moves win.
                    var score = after + 0.001 * g.MemoryMiB / maxMemory;
                    if (best.Count == ShortList && best.TryPeek(out _, out var worst) && -score <= worst.Item1) continue;
                    best.Enqueue(new Candidate(g, to, after), (-score, -to, g.Name));
                    if (best.Count > ShortList) best.Dequeue();
                }
            }
        }
        var ordered = new List<(Candidate C, (double, int, string) P)>();
        while (best.TryDequeue(out var c, out var p)) ordered.Add((c, p));
        ordered.Reverse(); // best first
        var high = cfg.HighUtilizationPercent / 100;
        foreach (var (c, _) in ordered)
        {
            // Relieving an overloaded host is worth any improvement (on a large fleet one move barely shifts the
            // spread) as long as the destination stays below the mark; other moves must earn minImprovement.
            var from = s.HostIndex(c.Guest.Host!);
            var relief = Load(s, from) > high && LoadAfter(s, c.To, c.Guest) <= high && c.Score < current;
            if (!relief && current - c.Score < cfg.MinImprovement * current) continue;
            if (engine.Admits(s.Demand(c.Guest), c.To)) return c;
        }
        return null;
    }
}
