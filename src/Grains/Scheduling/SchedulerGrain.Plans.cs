using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Model;
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
        if (_plans.Busy is not null)
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
            InFlight = _migrations.InFlight(),
            Link = options.Value.MigrationLink,
        };
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var snapshot = _fleet.Snapshot(options.Value.UsageSampleSeconds);
        var plan = PlanViewMapping.From(Rebalancer.Plan(snapshot, policy, context) with { CreatedAt = now });
        Telemetry.KvmMeters.PlanningDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        _plans.Add(plan);
        await Save();
        await Record("plan-recommended", plan.Id, $"plan {plan.Id} ({policy.Name}): {plan.Moves.Count} migrations, {plan.PowerActions.Count} power actions",
            [.. plan.Notes, .. plan.Moves.Select(m => $"{m.Guest} {m.From} → {m.To}: {string.Join("; ", m.Reasons)}"),
                .. plan.PowerActions.Select(p => $"{p.Operation} {p.Host}: {string.Join("; ", p.Reasons)}")]);
        return (plan, policy);
    }

    public Task<IReadOnlyList<PlanView>> Plans() => Task.FromResult<IReadOnlyList<PlanView>>([.. _plans.All.Select(WithProgress)]);

    public Task<PlanView> Plan(string id) => Task.FromResult(WithProgress(_plans.Find(id)));

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
            return _plans.Find(id);
        }
        return plan;
    }

    public async Task<MigrationView> Migrate(string guestName, string? to, bool force)
    {
        var (engine, guest) = await GuestToMove(guestName);
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
        if (_migrations.LimitBroken(_policy.Policy.Migration, guest.Host!, to) is { } limit)
        {
            if (!force) throw ClusterException.Conflict($"{limit}; wait for one to finish, or force it (--force)", "migration");
            reasons.Add($"forced past the policy's limit: {limit}");
            await Record("migration-forced", guestName, $"operator forced a migration of {guestName} {guest.Host} → {to} past the policy's limit", [limit]);
        }
        var id = $"{guestName}-{clock.Now:yyyyMMddHHmmssfff}";
        var order = MigrationOrder.For(_policy.Policy.Migration, guest, to, null, reasons) with { Forced = force && reasons.Count > 1 };
        return await StartMigration(id, order, guest);
    }

    public async Task<MigrationView> MigrateOffline(string guestName, string to)
    {
        var (engine, guest) = await GuestToMove(guestName);
        if (!engine.State.TryGetHostIndex(to, out _)) throw ClusterException.NotFound($"no reachable host named '{to}'");
        if (guest.HasPassthrough || guest.SriovVfs > 0)
            throw ClusterException.Conflict($"guest '{guestName}' holds passed-through devices, whose state QEMU cannot move even paused: shut it down and start it on {to} (guest {guestName} shutdown, then start --host {to})");
        // Paused, its disks may be copied whatever the policy says of live block migration: nothing dirties them.
        var rules = _policy.Policy with { Migration = _policy.Policy.Migration.Offline() };
        var rejections = new KvmCluster.Policies.Placement.PlacementEngine(engine.State.Snapshot, rules).Evaluate(guest, to);
        if (rejections.Count > 0) throw ClusterException.Conflict($"host '{to}' cannot run '{guestName}': {string.Join("; ", rejections)}");
        if (_migrations.LimitBroken(_policy.Policy.Migration, guest.Host!, to) is { } limit) throw ClusterException.Conflict($"{limit}; wait for one to finish", "migration");

        var cost = KvmCluster.Policies.Migration.MigrationPlanning.Predict(guest with { Paused = true }, rules.Migration, options.Value.MigrationLink);
        var reasons = new List<string> { $"operator request: offline to {to}; the guest is paused for the whole move (predicted downtime {cost.TotalSeconds:0.#} s)" };
        var (order, paused, pausedOn) = await OfflineOrder(_policy.Policy.Migration, guest, to, null, reasons);
        await Record("migration-offline", guestName, $"guest {guestName} paused for an offline migration {guest.Host} → {to}", reasons);
        try { return await StartMigration($"{guestName}-{clock.Now:yyyyMMddHHmmssfff}", order, paused); }
        catch
        {
            if (pausedOn is not null) await HostGrain(pausedOn).Control(guestName, new GuestControl(GuestAction.Cont));
            throw;
        }
    }

    /// <summary>
    /// The engine and the guest an operator's migration moves. A guest placed since the engine was built lives only in
    /// its committed state, not in its snapshot: the engine is built again for it.
    /// </summary>
    private async Task<(KvmCluster.Policies.Placement.PlacementEngine Engine, Guest Guest)> GuestToMove(string guestName)
    {
        var engine = await Engine();
        if (engine.State.Snapshot.FindGuest(guestName) is null && _fleet.HasGuest(guestName) && _engines.InFlight == 0)
        {
            _engines.Invalidate();
            engine = await Engine();
        }
        var guest = engine.State.Snapshot.FindGuest(guestName) ?? throw ClusterException.NotFound($"no reachable guest named '{guestName}'");
        if (_migrations.Of(guestName) is { } active) throw ClusterException.Conflict($"guest '{guestName}' is already migrating ({active.Id})");
        return (engine, guest);
    }

    /// <summary>
    /// An offline move's order: the guest paused first (when it runs; <c>PausedOn</c> says where, to run it again if
    /// the move does not start), the core's offline settings, and whether it runs again where it arrives.
    /// </summary>
    private async Task<(MigrationOrder Order, Guest Paused, string? PausedOn)> OfflineOrder(KvmCluster.Policies.Rules.MigrationSettings settings, Guest guest, string to, string? plan, IReadOnlyList<string> reasons)
    {
        var wasRunning = !guest.Paused;
        if (wasRunning) await HostGrain(guest.Host!).Control(guest.Name, new GuestControl(GuestAction.Stop));
        var paused = guest with { Paused = true };
        var order = MigrationOrder.For(settings.Offline(), paused, to, plan, reasons) with { Offline = true, ResumeAfter = wasRunning };
        return (order, paused, wasRunning ? guest.Host : null);
    }

    private async Task<PlanView> Update(string id, PlanState to)
    {
        var plan = _plans.SetState(id, to);
        await Save();
        return plan;
    }
}
