using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;

namespace KvmCluster.Policies.Balancing.Adaptive;

/// <summary>
/// The adaptive family on a live fleet: the same optimiser the simulator runs, over
/// <see cref="SnapshotAdaptiveFleet"/>; then hosts left empty are powered off, one per round beyond the
/// power-saving reserve.
/// </summary>
public sealed class AdaptiveBalancer : IBalancer
{
    public string Name => "adaptive";

    public BalancerResult Balance(PlacementEngine engine, PlanningContext context)
    {
        var result = new BalancerResult();
        var s = engine.State;
        var settings = engine.Policy.Adaptive;
        // The detectors judge measured use: before the first sample every guest would count as fully busy.
        if (HostLoad.HistoryDepth(s) == 0)
        {
            result.Notes.Add("no usage samples yet: nothing to judge");
            return result;
        }
        // CloudSim's PABFD may place a VM on a switched-off host (it counts as idle). Here such a host is a candidate
        // too, and a move onto it comes with the power-on it needs (the plan boots it first).
        var sleeping = Enumerable.Range(0, s.HostCount).Where(h => !s.Accepts(h) && s.Hosts[h].Power != Model.PowerState.On && !s.Hosts[h].Maintenance).ToHashSet();
        foreach (var h in sleeping) s.SetAccepting(h, true);
        var fleet = new SnapshotAdaptiveFleet(engine, context.Link);
        // Seeded from the policy and the round, so a plan is reproducible in any process and rounds differ.
        var random = new Random(Randomness.StableSeed.Mix(engine.Policy.Seed, context.Now.ToUnixTimeSeconds()));
        var optimizer = AdaptiveFactory.Create(settings, s.Snapshot.SampleIntervalSeconds, random);
        var decided = optimizer.Optimize(fleet, settings.MaxConsolidationsPerRound > 0 ? settings.MaxConsolidationsPerRound : null, settings.ConsolidateUnderloaded);
        result.Notes.Add($"{optimizer.Detector.Name} with {optimizer.Selection.Name} selection: {decided.Count} decision(s)");

        // A VM decided twice (placed on a host that was then consolidated) ends where the last decision puts it.
        var byVm = decided.GroupBy(m => m.Vm).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var vm in decided.Select(m => m.Vm).Distinct())
        {
            var steps = byVm[vm];
            var to = steps[^1].Host;
            var from = fleet.HomeOf(vm);
            if (to == from || context.MovedRecently(fleet.Guest(vm).Name)) continue;
            var reasons = steps.Select((m, i) => (i == 0 ? "" : "then ") + Why(m, fleet, optimizer, s)).ToList();
            reasons.Add($"{s.Hosts[to].Name} has the smallest power increase without becoming overloaded (PABFD)");
            s.Move(fleet.Guest(vm), to);
            result.Moves.Add(new ProposedMove(fleet.Guest(vm), s.Hosts[from].Name, s.Hosts[to].Name, reasons));
        }
        foreach (var h in sleeping)
        {
            if (s.GuestsOn(h).Count > 0)
                result.Power.Add(new ProposedPower(s.Hosts[h].Name, PowerOperation.PowerOn,
                    [$"PABFD places {s.GuestsOn(h).Count} guest(s) on {s.Hosts[h].Name}, which is {s.Hosts[h].Power.ToString().ToLowerInvariant()}"], Urgent: true));
            else s.SetAccepting(h, false);
        }

        var reserve = engine.Policy.PowerSaving.HostsInReserve;
        var empty = Enumerable.Range(0, s.HostCount).Where(h => s.Accepts(h) && !sleeping.Contains(h) && s.GuestsOn(h).Count == 0).ToList();
        foreach (var h in empty.Take(Math.Max(0, Math.Min(empty.Count - reserve, engine.Policy.PowerSaving.MaxPowerActionsPerRound))))
            result.Power.Add(new ProposedPower(s.Hosts[h].Name, PowerOperation.PowerOff, [$"empty after consolidation; {reserve} empty host(s) kept in reserve"]));
        return result;
    }

    private static string Why(AdaptiveMove m, SnapshotAdaptiveFleet fleet, AdaptiveOptimizer optimizer, PlacementState s)
    {
        var cpu = AdaptiveOptimizer.Utilization(fleet, m.From);
        return m.Reason == AdaptiveReason.Overload
            ? $"{s.Hosts[m.From].Name} is overloaded by {optimizer.Detector.Name} (CPU {cpu:P0} now)"
            : $"{s.Hosts[m.From].Name} is the least-used host left (CPU {cpu:P0}): all its guests move so it can be powered off";
    }
}
