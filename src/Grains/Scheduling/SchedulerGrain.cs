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

/// <summary>
/// One per cluster. Keeps the fleet picture hosts push, places new guests, runs the active policy on a timer (the
/// placement core decides; this grain only orchestrates), keeps plans through their life cycle and executes them
/// wave by wave through migration grains. Automation: manual and partial keep plans RECOMMENDED for an operator,
/// full executes them.
/// </summary>
[MayInterleave(nameof(MayInterleave))]
public sealed class SchedulerGrain(
    [PersistentState("scheduler", StorageNames.Store)] IPersistentState<SchedulerState> state,
    [PersistentState("roster", StorageNames.Store)] IPersistentState<SchedulerRoster> roster,
    IClusterMembershipService membership,
    IOptions<SchedulerOptions> options,
    IPowerController power,
    FleetClock clock,
    ILogger<SchedulerGrain> log) : Grain, ISchedulerGrain
{
    private readonly FleetView _fleet = new(membership);
    private (string Key, PolicyModel.Policy Policy) _policy = ("", PolicyModel.Policy.Default);
    private PlacementEngine? _engine;
    private long _engineVersion = -1;
    private long _engineReported = -1;
    private DateTime _engineBuilt;
    private readonly Dictionary<string, string> _activeMigrations = new(StringComparer.Ordinal);

    private long _rosterVersion;
    private Task? _rosterWrite;
    private List<EventRecord> _placedEvents = [];
    private readonly Dictionary<string, IHostGrain> _hostGrains = new(StringComparer.Ordinal);
    private bool _policyStale = true;
    private int _placing;
    private readonly HashSet<string> _naming = new(StringComparer.Ordinal);

    /// <summary>
    /// Placements interleave with each other (and only they may enter while another call waits): the engine's
    /// reservations keep concurrent placements apart while each waits for its host to launch the guest.
    /// </summary>
    public static bool MayInterleave(IInvokable request) => request.GetMethodName() == nameof(Place);

    public Task PolicyChanged()
    {
        _policyStale = true;
        return Task.CompletedTask;
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var r in roster.State.Hosts) _fleet.Report(r);
        _rosterVersion = _fleet.Version;
        this.RegisterGrainTimer(() => { FlushPlacedEvents(); RosterChanged(); return Task.CompletedTask; },
            new GrainTimerCreationOptions(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)) { KeepAlive = true });
        var every = options.Value.PlanningInterval;
        if (every > TimeSpan.Zero)
            this.RegisterGrainTimer(async () => { try { await Preview(); } catch (Exception e) { log.LogWarning(e, "planning round failed"); } },
                new GrainTimerCreationOptions(every, every) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public Task ReportHost(HostReport report)
    {
        if (_fleet.Report(report)) RosterChanged();
        return Task.CompletedTask;
    }

    private Task Save() => state.WriteStateAsync();

    /// <summary>
    /// Write-behind for the roster: written as soon as hosts or guests change, but never two writes at once — changes
    /// that arrive during a write are coalesced into the next one, so a thousand reports cost a few fleet-sized writes.
    /// </summary>
    private void RosterChanged()
    {
        if (_rosterWrite is null || _rosterWrite.IsCompleted) _rosterWrite = WriteRoster();
    }

    private async Task WriteRoster()
    {
        // Any change of hosts or guests (reports, launches, completed migrations) bumps the fleet's version.
        while (_fleet.Version != _rosterVersion)
        {
            var version = _fleet.Version;
            roster.State.Hosts = [.. _fleet.Reports];
            try { await roster.WriteStateAsync(); }
            catch (Exception e) { log.LogWarning(e, "roster not written; retrying on the next change or tick"); return; }
            _rosterVersion = version;
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        FlushPlacedEvents();
        if (_rosterWrite is { } pending) await pending;
        RosterChanged();
        if (_rosterWrite is { } last) await last;
    }

    public Task<IReadOnlyList<HostView>> Hosts() => Task.FromResult<IReadOnlyList<HostView>>([.. _fleet.Reports.Select(r =>
    {
        var guests = _fleet.GuestsOn(r).ToList();
        return new HostView(r.Host.Name, r.Host, [.. guests.Select(g => g.Name).Order(StringComparer.Ordinal)], _fleet.IsReachable(r.Host.Name),
            r.Driver, r.DriverProblem, r.At, guests.Sum(g => g.MemoryMiB), guests.Sum(g => g.VCpus));
    })]);

    public Task<IReadOnlyList<GuestView>> Guests()
    {
        var list = new List<GuestView>();
        foreach (var r in _fleet.Reports)
        {
            var reachable = _fleet.IsReachable(r.Host.Name);
            foreach (var g in _fleet.GuestsOn(r))
            {
                var migration = _activeMigrations.GetValueOrDefault(g.Name);
                var status = !reachable ? GuestStatus.Unreachable : migration is null ? GuestStatus.Running : GuestStatus.Migrating;
                list.Add(new GuestView(g.Name, g with { Host = r.Host.Name }, r.Host.Name, status, r.At, migration));
            }
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return Task.FromResult<IReadOnlyList<GuestView>>(list);
    }

    public Task<FleetSnapshot> Snapshot() => Task.FromResult(_fleet.Snapshot(options.Value.UsageSampleSeconds));

    public async Task<PlacementView> Place(Guest guest)
    {
        foreach (var (field, message) in guest.Problems()) throw ClusterException.Invalid(message, field);
        // Checked and claimed before the first await: two interleaved placements of one name must not both pass.
        if (_fleet.HasGuest(guest.Name) || !_naming.Add(guest.Name))
            throw ClusterException.Conflict($"guest '{guest.Name}' already exists");
        _placing++;
        try { return await PlaceOne(guest); }
        finally { _placing--; _naming.Remove(guest.Name); }
    }

    private async Task<PlacementView> PlaceOne(Guest guest)
    {
        // While other placements are in flight their reservations live in the current engine: keep it.
        var engine = _placing > 1 && _engine is { } current ? current : await Engine();
        var now = clock.Now;
        var (result, reservation) = engine.PlaceAndReserve(guest with { Host = null }, now, options.Value.ReservationTtl, PlaceOptions.Fast);
        if (reservation is null)
        {
            var explained = engine.Place(guest with { Host = null }, PlaceOptions.Explained);
            var reasons = explained.Rejected.Take(10).Select(r => r.ToString()).ToList();
            Telemetry.KvmMeters.PlacementsRefused.Add(1);
            throw new ClusterException(ProblemKind.Conflict, $"no host can run guest '{guest.Name}'" + (reasons.Count > 0 ? ": " + string.Join("; ", reasons) : ""));
        }
        var placed = guest with { Host = reservation.Host };
        try
        {
            await HostGrain(reservation.Host).Launch(placed);
        }
        catch (Exception e)
        {
            engine.Release(reservation.Id);
            throw e as ClusterException ?? ClusterException.Unavailable($"host '{reservation.Host}' could not launch '{guest.Name}': {e.GetBaseException().Message}");
        }
        engine.Commit(reservation.Id);
        Telemetry.KvmMeters.Placements.Add(1);
        _fleet.Launched(placed);
        _engineVersion = _fleet.Version; // the engine already holds this guest: no rebuild for it
        var why = new List<string> { $"best of {result.Feasible} feasible hosts with policy {_policy.Policy.Name} (score {result.Score:0.###})" };
        _ = RecordGuest(placed);
        // Placement events go out in batches (a burst of placements costs a few calls to the event log, not one each).
        _placedEvents.Add(Events.Events.New(now, "guest-placed", guest.Name, $"guest {guest.Name} placed on {reservation.Host}", why));
        if (_placedEvents.Count >= 256) FlushPlacedEvents();
        return new PlacementView(guest.Name, reservation.Host, result.Score, why);
    }

    private void FlushPlacedEvents()
    {
        if (_placedEvents.Count == 0) return;
        var batch = _placedEvents;
        _placedEvents = [];
        _ = GrainFactory.GetGrain<IEventLogGrain>(Cluster.Key).Append(batch);
    }

    /// <summary>Grain references are cached: resolving one costs a reflection lookup in this Orleans version.</summary>
    private IHostGrain HostGrain(string host)
    {
        if (!_hostGrains.TryGetValue(host, out var grain)) _hostGrains[host] = grain = GrainFactory.GetGrain<IHostGrain>(host);
        return grain;
    }

    /// <summary>The guest's own record follows in the background: placement does not wait for its storage write.</summary>
    private async Task RecordGuest(Guest placed)
    {
        try { await GrainFactory.GetGrain<IGuestGrain>(placed.Name).Placed(placed); }
        catch (Exception e) { log.LogWarning(e, "guest record of {Guest} not written", placed.Name); }
    }

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
        return await StartMigration(id, MigrationOrder.For(_policy.Policy.Migration, guestName, guest.Host!, to, null, reasons), guest);
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

    public async Task<HostView> SetMaintenance(string host, bool on)
    {
        if (!_fleet.IsReachable(host)) throw ClusterException.NotFound($"no reachable host named '{host}'");
        await GrainFactory.GetGrain<IHostGrain>(host).SetMaintenance(on);
        await Record(on ? "maintenance-on" : "maintenance-off", host, $"host {host} maintenance {(on ? "on" : "off")}", []);
        return (await Hosts()).Single(h => h.Name == host);
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
            await StartMigration(id, MigrationOrder.For(_policy.Policy.Migration, m.Guest, m.From, m.To, plan.Id, m.Reasons), guest);
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

    private async Task<PlacementEngine> Engine()
    {
        if (_policyStale) await ActivePolicy();
        // Usage samples alone refresh the engine at most every PlacementUsageRefresh (real time: a cost bound).
        var usageStale = _fleet.Reported != _engineReported && DateTime.UtcNow - _engineBuilt >= options.Value.PlacementUsageRefresh;
        if (_engine is null || _engineVersion != _fleet.Version || usageStale || !ReferenceEquals(_engine.Policy, _policy.Policy))
        {
            _engine = new PlacementEngine(_fleet.Snapshot(options.Value.UsageSampleSeconds), _policy.Policy);
            _engineVersion = _fleet.Version;
            _engineReported = _fleet.Reported;
            _engineBuilt = DateTime.UtcNow;
        }
        return _engine;
    }

    /// <summary>Re-reads the active policy (placements use the cached one until the policy grain says it changed).</summary>
    private async Task<PolicyModel.Policy> ActivePolicy()
    {
        _policyStale = false;
        var active = await GrainFactory.GetGrain<IPolicyGrain>(Cluster.Key).Active();
        var key = active is null ? "" : $"{active.Name}@{active.Version}";
        if (key != _policy.Key)
            _policy = (key, active is null ? PolicyModel.Policy.Default : PolicyDocument.Parse(active.Text, active.Name));
        return _policy.Policy;
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

    private Task Record(string kind, string subject, string message, IReadOnlyList<string> reasons)
    {
        FlushPlacedEvents(); // keep the log in order
        return GrainFactory.GetGrain<IEventLogGrain>(Cluster.Key).Append([Events.Events.New(clock.Now, kind, subject, message, reasons)]);
    }
}
