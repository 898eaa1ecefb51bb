using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Planning;

/// <summary>
/// Orders a balancer's proposals into waves that are safe at every instant, cheapest migrations first
/// (by the cost model). Power-ons come first. A
/// migration joins a wave only if its destination admits the guest while the destination also holds
/// every other in-flight arrival (a guest occupies both hosts until its migration ends) — every mandatory
/// constraint, hugepages included — and only within the per-host outbound/inbound and cluster-wide limits.
/// Moves that would never converge are refused. A cycle (A→B waits for B→A) is broken by a temporary
/// move through a third host when one exists, otherwise refused. Power-offs come last, for empty hosts only.
/// </summary>
public static class PlanBuilder
{
    private sealed record Pending(Guest Guest, string From, string To, IReadOnlyList<string> Reasons, MigrationPrediction Cost, bool Offline = false);

    /// <summary>How a refusal for want of a transient-safe order begins.</summary>
    public const string Unorderable = "no transient-safe order";

    public static Plan Build(FleetSnapshot snapshot, Rules.Policy policy, BalancerResult proposals, PlanningContext context) =>
        Build(new PlacementEngine(snapshot, policy), proposals, context);

    /// <summary>Builds the plan on <paramref name="engine"/>'s state, which must be the fleet as it is now; it is consumed.</summary>
    public static Plan Build(PlacementEngine engine, BalancerResult proposals, PlanningContext context)
    {
        var policy = engine.Policy;
        var s = engine.State;
        var limits = policy.Migration;
        var actions = new List<PlanAction>();
        var refused = new List<RefusedMove>(proposals.Refused);
        var wave = 0;

        var powerOns = proposals.Power.Where(p => p.Operation == PowerOperation.PowerOn).ToList();
        if (powerOns.Count > 0)
        {
            wave++;
            foreach (var p in powerOns)
            {
                s.SetAccepting(s.HostIndex(p.Host), true);
                actions.Add(new PowerAction(p.Host, PowerOperation.PowerOn) { Wave = wave, Reasons = p.Reasons });
            }
        }

        var pending = new List<Pending>();
        foreach (var m in Collapse(proposals.Moves))
        {
            var guest = s.GuestsOn(s.HostIndex(m.From)).FirstOrDefault(g => g.Name == m.Guest.Name);
            if (guest is null) { refused.Add(new RefusedMove(m.Guest.Name, m.From, m.To, $"{m.Guest.Name} is not on {m.From}")); continue; }
            if (context.IsMoving(guest.Name)) { refused.Add(new RefusedMove(guest.Name, m.From, m.To, $"{guest.Name} is migrating already")); continue; }
            var cost = MigrationPlanning.Predict(guest, limits, context.Link);
            // What cannot move live may move offline when the policy allows it: paused, nothing dirties its memory or
            // disks, so it converges at once and its disks are copied; the guest is down for the whole move.
            var offline = limits.AllowOffline && (!cost.Completes || guest.CopiesDisksOnMigration && !limits.AllowBlockMigration);
            if (offline) cost = MigrationPlanning.Predict(guest with { Usage = guest.Usage.WithObservedDirtyRate(0) }, limits.Offline(), context.Link);
            if (!cost.Completes) { refused.Add(new RefusedMove(guest.Name, m.From, m.To, $"the migration would not converge ({cost}); the guest stays")); continue; }
            pending.Add(new Pending(guest, m.From, m.To, offline ? [.. m.Reasons, $"offline: paused for the whole move, predicted downtime {cost.TotalSeconds:0.#} s"] : m.Reasons, cost, offline));
        }

        // Cheapest migrations first (stable, so the balancer's order breaks ties): relief arrives sooner, and
        // a move that needs room another one frees simply waits for a later wave.
        pending = [.. pending.OrderBy(p => p.Cost.TotalSeconds)];
        var bounces = 0;
        while (pending.Count > 0)
        {
            var inWave = TakeWave(engine, pending, limits);
            if (inWave.Count == 0)
            {
                if (bounces++ < 16 && Bounce(engine, pending, context)) continue;
                foreach (var p in pending)
                    refused.Add(new RefusedMove(p.Guest.Name, p.From, p.To, Unorderable + ": " + WhyNot(engine, p)));
                break;
            }
            wave++;
            foreach (var p in inWave)
            {
                var from = s.HostIndex(p.From);
                var to = s.HostIndex(p.To);
                s.Remove(s.Demand(p.Guest), from, reserved: false);
                s.Unreserve(s.Demand(p.Guest with { Host = p.To }), to);
                actions.Add(new MigrateAction(p.Guest.Name, p.From, p.To, p.Cost) { Wave = wave, Reasons = p.Reasons, Offline = p.Offline });
            }
        }

        var offs = proposals.Power.Where(p => p.Operation == PowerOperation.PowerOff).ToList();
        if (offs.Count > 0)
        {
            wave++;
            foreach (var p in offs)
            {
                var left = s.GuestsOn(s.HostIndex(p.Host));
                if (left.Count > 0)
                    refused.Add(new RefusedMove("-", p.Host, null, $"power-off {p.Host} refused: it would still run {string.Join(", ", left.Select(g => g.Name))}"));
                else
                    actions.Add(new PowerAction(p.Host, PowerOperation.PowerOff) { Wave = wave, Reasons = p.Reasons });
            }
        }

        var numbered = actions.Select((a, i) => a with { Step = i + 1 }).ToList();
        return new Plan
        {
            Id = Plan.IdFor(policy.Name, context.Now, numbered, refused),
            Policy = policy.Name,
            CreatedAt = context.Now,
            Actions = numbered,
            Refused = refused,
            Notes = proposals.Notes,
        };
    }

    /// <summary>
    /// One move per guest: a guest moved by two balancers (evacuated, then rebalanced) goes straight to its last
    /// destination; a guest that would end where it started does not move at all.
    /// </summary>
    private static IEnumerable<ProposedMove> Collapse(IReadOnlyList<ProposedMove> moves)
    {
        var byGuest = new Dictionary<string, ProposedMove>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var m in moves)
        {
            if (byGuest.TryGetValue(m.Guest.Name, out var first))
                byGuest[m.Guest.Name] = first with { To = m.To, Reasons = [.. first.Reasons, .. m.Reasons] };
            else { byGuest[m.Guest.Name] = m; order.Add(m.Guest.Name); }
        }
        return order.Select(n => byGuest[n]).Where(m => m.From != m.To);
    }

    /// <summary>
    /// The next wave: pending moves, in order, whose destination admits them with the wave's other arrivals
    /// already reserved there. Taken moves are removed from <paramref name="pending"/> and reserved.
    /// </summary>
    private static List<Pending> TakeWave(PlacementEngine engine, List<Pending> pending, Rules.MigrationSettings limits)
    {
        var s = engine.State;
        var outbound = new Dictionary<string, int>(StringComparer.Ordinal);
        var inbound = new Dictionary<string, int>(StringComparer.Ordinal);
        var wave = new List<Pending>();
        var busy = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in pending)
        {
            if (wave.Count >= limits.MaxConcurrent) break;
            // A guest moves once per wave, and not while its earlier move (a bounce) is still pending.
            if (!busy.Add(p.Guest.Name)) continue;
            if (outbound.GetValueOrDefault(p.From) >= limits.MaxOutboundPerHost || inbound.GetValueOrDefault(p.To) >= limits.MaxInboundPerHost) continue;
            var to = s.HostIndex(p.To);
            var d = s.Demand(p.Guest);
            if (!engine.Admits(d, to)) continue;
            s.Add(s.Demand(p.Guest with { Host = p.To }), to, reserved: true);
            outbound[p.From] = outbound.GetValueOrDefault(p.From) + 1;
            inbound[p.To] = inbound.GetValueOrDefault(p.To) + 1;
            wave.Add(p);
        }
        foreach (var p in wave) pending.Remove(p);
        return wave;
    }

    /// <summary>Breaks a cycle: the first stuck guest goes to a third host first and on to its target later.</summary>
    private static bool Bounce(PlacementEngine engine, List<Pending> pending, PlanningContext context)
    {
        var s = engine.State;
        foreach (var p in pending)
        {
            var d = s.Demand(p.Guest);
            var via = engine.Place(d, PlaceOptions.Fast).Host;
            if (via is null || via == p.To) continue;
            var index = pending.IndexOf(p);
            pending[index] = p with { To = via, Reasons = [.. p.Reasons, $"temporarily to {via}: {p.To} has no room until other moves finish"] };
            pending.Add(p with { Guest = p.Guest with { Host = via }, From = via, Reasons = [.. p.Reasons, $"second leg, after waiting on {via}"] });
            return true;
        }
        return false;
    }

    private static string WhyNot(PlacementEngine engine, Pending p)
    {
        var reasons = engine.Evaluate(p.Guest, p.To);
        return reasons.Count == 0 ? "waits on another refused move" : string.Join("; ", reasons);
    }
}
