using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using KvmCluster.Policies.Planning;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Serialization.Invocation;
using Microsoft.Extensions.Options;
using PolicyModel = KvmCluster.Policies.Policy;

namespace KvmCluster.Grains.Scheduling;

/// <summary>Planning rounds, the plan life cycle, wave-by-wave execution and single migrations.</summary>
public sealed partial class SchedulerGrain
{
    public async Task<PlanView> Preview()
    {
        var policy = await ActivePolicy();
        var now = clock.Now;
        var context = new PlanningContext
        {
            Now = now,
            RecentMigrations = [.. state.State.RecentMigrations.Select(m => new RecentMigration(m.Order.Guest, m.Order.From, m.Order.To, m.EndedAt ?? m.CreatedAt))],
            Link = options.Value.MigrationLink,
        };
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var snapshot = _fleet.Snapshot(options.Value.UsageSampleSeconds);
        // Guests already moving are left out of this round's decisions: their hosts stay as they are.
        var plan = PlanViews.From(Rebalancer.Plan(snapshot, policy, context) with { CreatedAt = now });
        plan = plan with { Moves = [.. plan.Moves.Where(m => !_activeMigrations.ContainsKey(m.Guest))] };
        Telemetry.KvmMeters.PlanningDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        var plans = state.State.Plans;
        for (var i = 0; i < plans.Count; i++)
            if (plans[i].StateOf() is PlanState.Recommended or PlanState.Approved) plans[i] = plans[i].WithState(PlanState.Superseded);
        plans.Add(plan);
        if (plans.Count > options.Value.PlansKept) plans.RemoveRange(0, plans.Count - options.Value.PlansKept);
        await Save();
        await Record("plan-recommended", plan.Id, $"plan {plan.Id} ({policy.Name}): {plan.Moves.Count} migrations, {plan.PowerActions.Count} power actions",
            [.. plan.Moves.Select(m => $"{m.Guest} {m.From} → {m.To}: {string.Join("; ", m.Reasons)}")]);
        if (options.Value.ExecutePlans && policy.Automation == PolicyModel.AutomationLevel.Full && (plan.Moves.Count > 0 || plan.PowerActions.Count > 0) && state.State.ExecutingPlan is null)
            return await Execute(plan.Id);
        return plan;
    }

    public Task<IReadOnlyList<PlanView>> Plans() => Task.FromResult<IReadOnlyList<PlanView>>([.. state.State.Plans]);

    public Task<PlanView> Plan(string id) => Task.FromResult(Find(id));

    public async Task<PlanView> Approve(string id) => await Update(id, PlanState.Approved);

    public async Task<PlanView> CancelPlan(string id)
    {
        var plan = await Update(id, PlanState.Cancelled);
        if (state.State.ExecutingPlan == id)
        {
            state.State.ExecutingPlan = null;
            await Save();
        }
        return plan;
    }

    public async Task<PlanView> Execute(string id)
    {
        if (state.State.ExecutingPlan is { } running && running != id) throw ClusterException.Conflict($"plan {running} is executing");
        var plan = Find(id);
        if (plan.StateOf() == PlanState.Recommended) plan = await Update(id, PlanState.Approved);
        plan = await Update(id, PlanState.Executing);
        state.State.ExecutingPlan = id;
        state.State.PlanMigrations.Clear();
        await Record("plan-executing", id, $"plan {id} executing", []);
        await RunPowerActions(plan);
        return await StartWave(plan, plan.Moves.Count == 0 ? 0 : plan.Moves.Min(m => m.Wave));
    }

    public async Task<MigrationView> Migrate(string guestName, string? to)
    {
        var engine = await Engine();
        // A guest placed since the engine was built lives only in its committed state, not in its snapshot: rebuild.
        if (engine.State.Snapshot.FindGuest(guestName) is null && _fleet.HasGuest(guestName) && _placing == 0)
        {
            _engine = null;
            engine = await Engine();
        }
        var guest = engine.State.Snapshot.FindGuest(guestName) ?? throw ClusterException.NotFound($"no reachable guest named '{guestName}'");
        if (_activeMigrations.TryGetValue(guestName, out var active)) throw ClusterException.Conflict($"guest '{guestName}' is already migrating ({active})");
        var reasons = new List<string>();
        if (to is null)
        {
            var result = engine.Place(guest, PlaceOptions.Explained);
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
        var id = $"{guestName}-{clock.Now:yyyyMMddHHmmssfff}";
        return await StartMigration(id, MigrationOrder.For(_policy.Policy.Migration.For(guest), guestName, guest.Host!, to, null, reasons), guest);
    }

    public async Task MigrationEnded(MigrationView migration)
    {
        _activeMigrations.Remove(migration.Order.Guest);
        if (migration.Status == MigrationStatus.Completed)
        {
            _fleet.Moved(migration.Order.Guest, migration.Order.From, migration.Order.To);
            RosterChanged();
            state.State.RecentMigrations.Add(migration);
            var cutoff = clock.Now - TimeSpan.FromHours(2);
            state.State.RecentMigrations.RemoveAll(m => (m.EndedAt ?? m.CreatedAt) < cutoff);
        }
        if (migration.Order.Plan is { } planId && planId == state.State.ExecutingPlan)
        {
            state.State.PlanMigrations[migration.Id] = migration.Status;
            var plan = Find(planId);
            var wave = plan.Moves.Where(m => m.Wave == state.State.ExecutingWave).ToList();
            if (wave.All(m => m.Migration is { } mid && state.State.PlanMigrations.ContainsKey(mid)))
            {
                var failed = wave.Count(m => state.State.PlanMigrations[m.Migration!] != MigrationStatus.Completed);
                var next = plan.Moves.Where(m => m.Wave > state.State.ExecutingWave).Select(m => m.Wave).DefaultIfEmpty(-1).Min();
                if (failed == 0 && next >= 0) { await StartWave(plan, next); return; }
                await Finish(plan, failed == 0 ? PlanState.Succeeded : PlanState.Failed);
                return;
            }
        }
        await Save();
    }

    private async Task<PlanView> StartWave(PlanView plan, int wave)
    {
        state.State.ExecutingWave = wave;
        var snapshot = _fleet.Snapshot(options.Value.UsageSampleSeconds);
        var moves = plan.Moves.ToList();
        for (var i = 0; i < moves.Count; i++)
        {
            if (moves[i].Wave != wave) continue;
            var m = moves[i];
            var id = PlanViews.MigrationId(plan, m);
            moves[i] = m with { Migration = id };
            var guest = snapshot.FindGuest(m.Guest);
            if (guest is null || guest.Host != m.From)
            {
                state.State.PlanMigrations[id] = MigrationStatus.Failed;
                continue;
            }
            await StartMigration(id, MigrationOrder.For(_policy.Policy.Migration.For(guest), m.Guest, m.From, m.To, plan.Id, m.Reasons), guest);
        }
        plan = plan with { Moves = moves };
        Replace(plan);
        await Save();
        if (moves.Count == 0 || moves.Where(m => m.Wave == wave).All(m => state.State.PlanMigrations.ContainsKey(m.Migration!) && state.State.PlanMigrations[m.Migration!] == MigrationStatus.Failed))
            return await Finish(plan, moves.Count == 0 ? PlanState.Succeeded : PlanState.Failed);
        return plan;
    }

    private async Task<MigrationView> StartMigration(string id, MigrationOrder order, Guest guest)
    {
        _activeMigrations[order.Guest] = id;
        var view = await GrainFactory.GetGrain<IMigrationGrain>(id).Start(order, guest);
        if (view.Status is MigrationStatus.Failed or MigrationStatus.Cancelled) _activeMigrations.Remove(order.Guest);
        return view;
    }

    private async Task<PlanView> Finish(PlanView plan, PlanState end)
    {
        plan = plan.WithState(end);
        Replace(plan);
        state.State.ExecutingPlan = null;
        await Save();
        await Record("plan-" + end.ToString().ToLowerInvariant(), plan.Id, $"plan {plan.Id} {end.Upper()}", []);
        return plan;
    }

    private async Task RunPowerActions(PlanView plan)
    {
        foreach (var p in plan.PowerActions)
        {
            try
            {
                if (p.Operation == "power-on") await power.PowerOnAsync(p.Host, CancellationToken.None);
                else await power.PowerOffAsync(p.Host, CancellationToken.None);
                await Record("host-" + p.Operation, p.Host, $"host {p.Host} {p.Operation}", p.Reasons);
            }
            catch (Exception e)
            {
                await Record("host-power-failed", p.Host, $"host {p.Host} {p.Operation} not done: {e.Message}", p.Reasons);
            }
        }
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
