using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Planning;
using Microsoft.Extensions.Logging;
using PolicyModel = KvmCluster.Policies.Rules;

namespace KvmCluster.Grains.Scheduling;

/// <summary>Planning rounds, the plan life cycle and operators' single migrations.</summary>
public sealed partial class SchedulerGrain
{
    /// <summary>A preview: the plan is kept RECOMMENDED and never executed here, whatever the automation level.</summary>
    public async Task<PlanView> Preview() => (await MakePlan()).Plan;

    /// <summary>
    /// The planning timer's round. While a plan is approved or executing no new plan is made (the simulator's rule
    /// too: one plan at a time). Under full automation a plan with actions is executed at once.
    /// </summary>
    private async Task Round()
    {
        if (state.State.Plans.Any(p => p.StateOf() is PlanState.Approved or PlanState.Executing))
        {
            log.LogDebug("planning round skipped: a plan is approved or executing");
            return;
        }
        var (plan, policy) = await MakePlan();
        if (options.Value.ExecutePlans && policy.Automation == PolicyModel.AutomationLevel.Full && (plan.Moves.Count > 0 || plan.PowerActions.Count > 0))
            await Execute(plan.Id);
    }

    private async Task<(PlanView Plan, PolicyModel.Policy Policy)> MakePlan()
    {
        var policy = await ActivePolicy();
        var now = clock.Now;
        state.State.Recent = PlanningContext.StillRecent(state.State.Recent, now);
        var context = new PlanningContext
        {
            Now = now,
            RecentMigrations = [.. state.State.Recent],
            InFlight = InFlight(),
            Link = options.Value.MigrationLink,
        };
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var snapshot = _fleet.Snapshot(options.Value.UsageSampleSeconds);
        var plan = PlanViewMapping.From(Rebalancer.Plan(snapshot, policy, context) with { CreatedAt = now });
        Telemetry.KvmMeters.PlanningDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        // A new plan replaces older recommendations only: an approved or executing plan stays what it is.
        var plans = state.State.Plans;
        for (var i = 0; i < plans.Count; i++)
            if (plans[i].StateOf() == PlanState.Recommended) plans[i] = plans[i].WithState(PlanState.Superseded);
        plans.Add(plan);
        if (plans.Count > options.Value.PlansKept)
        {
            // The oldest finished plans go first; an approved or executing one is kept whatever its age.
            var excess = plans.Count - options.Value.PlansKept;
            plans.RemoveAll(p => excess > 0 && p.StateOf().IsFinal() && excess-- > 0);
        }
        await Save();
        await Record("plan-recommended", plan.Id, $"plan {plan.Id} ({policy.Name}): {plan.Moves.Count} migrations, {plan.PowerActions.Count} power actions",
            [.. plan.Notes, .. plan.Moves.Select(m => $"{m.Guest} {m.From} → {m.To}: {string.Join("; ", m.Reasons)}"),
                .. plan.PowerActions.Select(p => $"{p.Operation} {p.Host}: {string.Join("; ", p.Reasons)}")]);
        return (plan, policy);
    }

    private List<InFlightMigration> InFlight() =>
        [.. state.State.Active.Values.Select(a => new InFlightMigration(a.Order.Guest, a.Order.From, a.Order.To)).OrderBy(m => m.Guest, StringComparer.Ordinal)];

    public Task<IReadOnlyList<PlanView>> Plans() => Task.FromResult<IReadOnlyList<PlanView>>([.. state.State.Plans.Select(WithProgress)]);

    public Task<PlanView> Plan(string id) => Task.FromResult(WithProgress(Find(id)));

    private PlanView WithProgress(PlanView plan) =>
        state.State.Execution is { } e && e.PlanId == plan.Id ? plan.WithProgress(e) : plan;

    public async Task<PlanView> Approve(string id) => await Update(id, PlanState.Approved);

    public async Task<PlanView> CancelPlan(string id)
    {
        var plan = await Update(id, PlanState.Cancelled);
        if (state.State.Execution is { } e && e.PlanId == id)
        {
            await Record("plan-cancelled", id, $"plan {id} CANCELLED: nothing more starts; running migrations end on their own", []);
            await Finish(PlanExecutor.Cancel(e, clock.Now));
            return Find(id);
        }
        return plan;
    }

    public async Task<MigrationView> Migrate(string guestName, string? to, bool force)
    {
        var engine = await Engine();
        // A guest placed since the engine was built lives only in its committed state, not in its snapshot: rebuild.
        if (engine.State.Snapshot.FindGuest(guestName) is null && _fleet.HasGuest(guestName) && _engines.InFlight == 0)
        {
            _engines.Invalidate();
            engine = await Engine();
        }
        var guest = engine.State.Snapshot.FindGuest(guestName) ?? throw ClusterException.NotFound($"no reachable guest named '{guestName}'");
        if (state.State.Active.TryGetValue(guestName, out var active)) throw ClusterException.Conflict($"guest '{guestName}' is already migrating ({active.Id})");
        var reasons = new List<string>();
        if (to is null)
        {
            var result = engine.Place(guest, KvmCluster.Policies.Placement.PlaceOptions.Explained);
            to = result.Host ?? throw ClusterException.Conflict($"no other host can run guest '{guestName}'");
            reasons.Add($"operator request; {to} chosen by policy {_policy.Policy.Name} (score {result.Score:0.###})");
        }
        else
        {
            if (!engine.State.TryGetHostIndex(to, out _)) throw ClusterException.NotFound($"no reachable host named '{to}'");
            var rejections = engine.Evaluate(guest, to);
            if (rejections.Count > 0) throw ClusterException.Conflict($"host '{to}' cannot run '{guestName}': {string.Join("; ", rejections)}");
            reasons.Add($"operator request to {to}");
        }
        // The policy's concurrency limits hold for operators too (KubeVirt's do); --force goes past them, on record.
        if (ConcurrencyLimit(_policy.Policy.Migration, guest.Host!, to) is { } limit)
        {
            if (!force) throw ClusterException.Conflict($"{limit}; wait for one to finish, or force it (--force)", "migration");
            reasons.Add($"forced past the policy's limit: {limit}");
            await Record("migration-forced", guestName, $"operator forced a migration of {guestName} {guest.Host} → {to} past the policy's limit", [limit]);
        }
        var id = $"{guestName}-{clock.Now:yyyyMMddHHmmssfff}";
        var order = MigrationOrder.For(_policy.Policy.Migration, guest, to, null, reasons) with { Forced = force && reasons.Count > 1 };
        return await StartMigration(id, order, guest);
    }

    /// <summary>The limit a new migration from <paramref name="from"/> to <paramref name="to"/> would break, or null.</summary>
    private string? ConcurrencyLimit(PolicyModel.MigrationSettings m, string from, string to)
    {
        var active = state.State.Active.Values.ToList();
        string Names(IEnumerable<ActiveMigration> list) => string.Join(", ", list.Select(a => a.Order.Guest).Order(StringComparer.Ordinal));
        if (active.Count >= m.MaxConcurrent) return $"the policy allows {m.MaxConcurrent} migrations at once in the cluster (migration.maxConcurrent) and {active.Count} run: {Names(active)}";
        var outbound = active.Where(a => a.Order.From == from).ToList();
        if (outbound.Count >= m.MaxOutboundPerHost) return $"the policy allows {m.MaxOutboundPerHost} migrations out of a host at once (migration.maxOutboundPerHost) and {from} sends {Names(outbound)}";
        var inbound = active.Where(a => a.Order.To == to).ToList();
        if (inbound.Count >= m.MaxInboundPerHost) return $"the policy allows {m.MaxInboundPerHost} migrations into a host at once (migration.maxInboundPerHost) and {to} receives {Names(inbound)}";
        return null;
    }

    private PlanView Find(string id) => state.State.Plans.LastOrDefault(p => p.Id == id) ?? throw ClusterException.NotFound($"no plan {id}");

    private void Replace(PlanView plan)
    {
        var i = state.State.Plans.FindLastIndex(p => p.Id == plan.Id);
        state.State.Plans[i] = plan;
    }

    private async Task<PlanView> Update(string id, PlanState to)
    {
        var plan = Find(id).WithState(to);
        Replace(plan);
        await Save();
        return plan;
    }
}
