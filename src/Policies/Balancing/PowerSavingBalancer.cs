using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Balancing;

/// <summary>
/// VMware DPM / oVirt power_saving: keep the powered-on hosts inside a utilisation band around a target
/// (63 % ± 18 %). Demand is judged over asymmetric windows — short to power on (5 min), long to power off
/// (40 min) — as the mean plus two standard deviations of total CPU demand, and memory allocation.
/// Too busy: power hosts on (standby before off, then the most efficient), all needed at once only when demand exceeds
/// the powered-on capacity. Too idle: evacuate the least-loaded host all-or-nothing, without pushing any
/// host above the band, then power it off — keeping hostsInReserve empty hosts on. One power transition
/// per round otherwise. Overloaded hosts shed guests to hosts below the target.
/// </summary>
public sealed class PowerSavingBalancer : IBalancer
{
    public string Name => "power-saving";

    public BalancerResult Balance(PlacementEngine engine, PlanningContext context)
    {
        var result = new BalancerResult();
        var s = engine.State;
        var cfg = engine.Policy.PowerSaving;
        var target = cfg.TargetUtilizationPercent / 100;
        var high = (cfg.TargetUtilizationPercent + cfg.TolerancePercent) / 100;
        var low = (cfg.TargetUtilizationPercent - cfg.TolerancePercent) / 100;
        var on = Enumerable.Range(0, s.HostCount).Where(s.Accepts).ToList();
        var sleeping = Enumerable.Range(0, s.HostCount)
            .Where(h => s.Hosts[h].Power != PowerState.On && !s.Hosts[h].Maintenance).ToList();

        var shortWindow = HostLoad.Samples(s, cfg.PowerOnWindowMinutes);
        var longWindow = HostLoad.Samples(s, cfg.PowerOffWindowMinutes);
        var demandShort = Demand(s, on, shortWindow);
        var capacity = on.Sum(h => s.CpuCapacityMhz[h]);
        var memory = on.Sum(h => (double)s.MemoryUsedMiB(h)) / Math.Max(1, on.Sum(h => s.MemoryCapacity[h]));
        var utilShort = Math.Max(capacity > 0 ? demandShort / capacity : double.PositiveInfinity, memory);
        result.Notes.Add($"{on.Count} host(s) on; demand over {cfg.PowerOnWindowMinutes:0.#} min is {utilShort:P0} of their capacity (band {low:P0}–{high:P0})");
        var budget = cfg.MaxPowerActionsPerRound;

        if (utilShort > high && sleeping.Count > 0)
        {
            var urgent = utilShort > 1;
            var needed = Math.Max(demandShort / target, capacity) - capacity;
            foreach (var h in WakeOrder(s, sleeping))
            {
                if (needed <= 0 || (!urgent && budget == 0)) break;
                result.Power.Add(new ProposedPower(s.Hosts[h].Name, PowerOperation.PowerOn,
                    [$"demand {utilShort:P0} of powered-on capacity is above {high:P0}" + (urgent ? " and exceeds it: urgent" : "")], urgent));
                s.SetAccepting(h, true);
                on.Add(h);
                needed -= s.CpuCapacityMhz[h];
                budget--;
            }
        }

        RelieveOverloads(engine, on, high, target, context, result);
        if (result.Power.Count > 0) return result;

        var emptyOn = on.Where(h => s.GuestsOn(h).Count == 0).ToList();
        if (emptyOn.Count < cfg.HostsInReserve && sleeping.Count > 0 && budget > 0)
        {
            var h = WakeOrder(s, sleeping).First();
            result.Power.Add(new ProposedPower(s.Hosts[h].Name, PowerOperation.PowerOn, [$"only {emptyOn.Count} empty host(s) on, {cfg.HostsInReserve} wanted in reserve"]));
            return result;
        }

        if (HostLoad.HistoryDepth(s) < longWindow)
        {
            result.Notes.Add($"not enough usage history for the {cfg.PowerOffWindowMinutes:0.#}-minute power-off window ({longWindow} samples needed)");
            return result;
        }
        var utilLong = Math.Max(capacity > 0 ? Demand(s, on, longWindow) / capacity : 1, memory);
        if (utilLong >= low || on.Count <= 1)
        {
            result.Notes.Add($"demand over {cfg.PowerOffWindowMinutes:0.#} min is {utilLong:P0}: no host to power off");
            return result;
        }

        // Already-empty hosts beyond the reserve go first: no migration needed.
        if (emptyOn.Count > cfg.HostsInReserve)
        {
            var h = emptyOn.OrderBy(h => Efficiency(s, h)).ThenBy(h => h).First();
            result.Power.Add(new ProposedPower(s.Hosts[h].Name, PowerOperation.PowerOff,
                [$"demand over {cfg.PowerOffWindowMinutes:0.#} min is {utilLong:P0}, below {low:P0}", $"{emptyOn.Count} empty host(s) on, {cfg.HostsInReserve} kept in reserve"]));
            return result;
        }
        // Otherwise evacuate the least loaded host, if all its guests fit elsewhere within the band.
        foreach (var h in on.Where(h => s.GuestsOn(h).Count > 0).OrderBy(h => HostLoad.Cpu(s, h)).ThenBy(h => Efficiency(s, h)).ThenBy(h => h).Take(5))
        {
            if (emptyOn.Count < cfg.HostsInReserve) break;
            if (Evacuate(engine, h, on, high, context) is { } moves)
            {
                result.Moves.AddRange(moves);
                result.Power.Add(new ProposedPower(s.Hosts[h].Name, PowerOperation.PowerOff,
                    [$"demand over {cfg.PowerOffWindowMinutes:0.#} min is {utilLong:P0}, below {low:P0}", $"its {moves.Count} guest(s) fit on other hosts within {high:P0}"]));
                return result;
            }
            result.Notes.Add($"{s.Hosts[h].Name} cannot be emptied: not all of its guests fit elsewhere within {high:P0}");
        }
        return result;
    }

    /// <summary>Mean plus two standard deviations of total CPU demand (MHz) over the window.</summary>
    private static double Demand(PlacementState s, IReadOnlyList<int> hosts, int window)
    {
        var totals = Enumerable.Range(0, window).Select(k => hosts.Sum(h => HostLoad.Cpu(s, h, k) * s.CpuCapacityMhz[h])).ToArray();
        var mean = totals.Average();
        var sd = totals.Length > 1 ? MathNet.Numerics.Statistics.Statistics.PopulationStandardDeviation(totals) : 0;
        return mean + 2 * sd;
    }

    /// <summary>Standby hosts before powered-off ones (they resume in seconds), then the most efficient.</summary>
    private static IEnumerable<int> WakeOrder(PlacementState s, List<int> sleeping) =>
        sleeping.OrderBy(h => s.Hosts[h].Power == PowerState.Standby ? 0 : 1).ThenByDescending(h => Efficiency(s, h)).ThenBy(h => h);

    /// <summary>Capacity per idle watt: the hosts worth keeping on.</summary>
    private static double Efficiency(PlacementState s, int h) =>
        s.CpuCapacityMhz[h] / Math.Max(1, s.Hosts[h].PowerModel?.IdleWatts ?? 100);

    /// <summary>
    /// Moves guests off hosts above the band onto hosts that stay at or below the target (newly powered-on
    /// ones included), least loaded first, at most maxMovesPerRound.
    /// </summary>
    private static void RelieveOverloads(PlacementEngine engine, List<int> on, double high, double target, PlanningContext context, BalancerResult result)
    {
        var s = engine.State;
        var relief = engine.Derive([new MaxHostCpuFilter(target * 100)], new ScoreWeights(Spread: 1, SoftAffinity: 0));
        var budget = engine.Policy.PowerSaving.MaxMovesPerRound;
        foreach (var h in on.Where(h => HostLoad.Cpu(s, h) > high).OrderByDescending(h => HostLoad.Cpu(s, h)).ThenBy(h => h).ToList())
        {
            foreach (var g in s.GuestsOn(h).OrderBy(g => g.MemoryMiB).ThenBy(g => g.Name, StringComparer.Ordinal).ToList())
            {
                if (HostLoad.Cpu(s, h) <= high) break;
                if (budget == 0) { result.Notes.Add($"stopped after {engine.Policy.PowerSaving.MaxMovesPerRound} moves this round"); return; }
                if (g.HasPassthrough || context.MovedRecently(g.Name)) continue;
                if (relief.Place(s.Demand(g), PlaceOptions.Fast).Host is not { } to) continue;
                var before = HostLoad.Cpu(s, h);
                var dest = s.HostIndex(to);
                s.Move(g, dest);
                budget--;
                result.Moves.Add(new ProposedMove(g, s.Hosts[h].Name, to,
                    [$"{s.Hosts[h].Name} CPU {before:P0} is above {high:P0}", $"{to} stays at or below the {target:P0} target ({HostLoad.Cpu(s, dest):P0})"]));
            }
        }
    }

    /// <summary>All-or-nothing: every guest of the host onto others without exceeding <paramref name="high"/>; null if not possible.</summary>
    private static List<ProposedMove>? Evacuate(PlacementEngine engine, int h, List<int> on, double high, PlanningContext context)
    {
        var s = engine.State;
        // Best fit: the fullest host that still stays within the band.
        var fit = engine.Derive([new MaxHostCpuFilter(high * 100)], new ScoreWeights(Spread: 0, Pack: 1, SoftAffinity: 0));
        var moves = new List<ProposedMove>();
        var mark = s.Mark();
        s.SetAccepting(h, false);
        foreach (var g in s.GuestsOn(h).OrderByDescending(g => g.Usage.LastCpuMhz).ThenBy(g => g.Name, StringComparer.Ordinal).ToList())
        {
            var to = g.HasPassthrough || context.MovedRecently(g.Name) ? null : fit.Place(s.Demand(g), PlaceOptions.Fast).Host;
            if (to is null)
            {
                s.RollbackTo(mark);
                return null;
            }
            var dest = s.HostIndex(to);
            s.Move(g, dest);
            moves.Add(new ProposedMove(g, s.Hosts[h].Name, to,
                [$"evacuating {s.Hosts[h].Name} to power it off", $"{to} CPU {HostLoad.Cpu(s, dest):P0} stays within {high:P0}"]));
        }
        return moves;
    }
}
