using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Events;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Serialization.Invocation;
using PolicyModel = KvmCluster.Policies.Rules;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// One per cluster. Keeps the fleet picture hosts push, places new guests, runs the active policy on a timer (the
/// placement core decides; this grain only orchestrates), keeps plans through their life cycle and drives the core's
/// plan executor through migration grains and the power controller. Automation: manual and partial keep plans
/// RECOMMENDED for an operator, full executes the timer's plans.
/// </summary>
[MayInterleave(nameof(MayInterleave))]
public sealed partial class SchedulerGrain(
    [PersistentState("scheduler", StorageNames.Store)] IPersistentState<SchedulerState> state,
    [PersistentState("roster", StorageNames.Store)] IPersistentState<SchedulerRoster> roster,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    IOptions<SchedulerOptions> options,
    IPowerController power,
    FleetClock clock,
    ILogger<SchedulerGrain> log) : Grain, ISchedulerGrain, IRemindable
{
    private readonly FleetView _fleet = new(membership, options.Value.ReportStaleAfter);
    private (string Key, PolicyModel.Policy Policy) _policy = ("", PolicyModel.Policy.Default);
    private readonly PlacementEngineCache _engines = new(options.Value.PlacementUsageRefresh, options.Value.UsageSampleSeconds);
    private readonly PlanBook _plans = new(() => state.State, options.Value.PlansKept);
    private readonly MigrationsUnderWay _migrations = new(() => state.State);

    private long _rosterVersion;
    private Task? _rosterWrite;
    private readonly Dictionary<string, IHostGrain> _hostGrains = new(StringComparer.Ordinal);
    private bool _policyStale = true;
    private readonly HashSet<string> _naming = new(StringComparer.Ordinal);

    /// <summary>
    /// Placements (and starts of defined guests, which are placements) interleave with each other, and only they may
    /// enter while another call waits: the engine's reservations keep concurrent placements apart while each waits for
    /// its host to launch the guest.
    /// </summary>
    public static bool MayInterleave(IInvokable request) => request.GetMethodName() is nameof(Place) or nameof(StartGuest);

    public Task PolicyChanged()
    {
        _policyStale = true;
        return Task.CompletedTask;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var now = clock.Now;
        foreach (var r in roster.State.Hosts) _fleet.Report(r, r.At);
        foreach (var (host, p) in state.State.PowerStatus) _fleet.PowerStatus(host, p);
        _rosterVersion = _fleet.Version;
        this.RegisterGrainTimer(Housekeeping, new GrainTimerCreationOptions(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2)) { KeepAlive = true });
        var every = options.Value.PlanningInterval;
        if (every > TimeSpan.Zero)
            this.RegisterGrainTimer(async () => { try { await Round(); } catch (Exception e) { log.LogWarning(e, "planning round failed"); } },
                new GrainTimerCreationOptions(every, every) { KeepAlive = true });
        var poll = options.Value.PowerStatusInterval;
        if (poll > TimeSpan.Zero)
            this.RegisterGrainTimer(() => { PollPowerStatus(); return Task.CompletedTask; },
                new GrainTimerCreationOptions(TimeSpan.FromSeconds(1), poll) { KeepAlive = true });
        if (state.State.Execution is { IsFinished: false }) await Resume(now);
    }

    public Task ReportHost(HostReport report)
    {
        if (_fleet.Report(report, clock.Now)) RosterChanged();
        return Task.CompletedTask;
    }

    // Writes never overlap (storage refuses a second write with the first's etag); changes meanwhile share the next.
    private readonly CoalescedWrites _stateWrites = new(state.WriteStateAsync);

    private Task Save() => _stateWrites.Write();

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
        if (_rosterWrite is { } pending) await pending;
        RosterChanged();
        if (_rosterWrite is { } last) await last;
    }

    public Task<IReadOnlyList<HostView>> Hosts() => Task.FromResult<IReadOnlyList<HostView>>([.. _fleet.Reports.Select(r =>
    {
        var guests = _fleet.GuestsOn(r).ToList();
        var reachable = _fleet.IsReachable(r.Host.Name);
        return new HostView(r.Host.Name, r.Host, [.. guests.Select(g => g.Name).Order(StringComparer.Ordinal)], reachable,
            r.Driver, r.DriverProblem, r.At, guests.Sum(g => g.MemoryMiB), guests.Sum(g => g.VCpus))
        {
            Power = (_fleet.PowerOf(r.Host.Name) ?? r.Host.Power).ToString().ToLowerInvariant(),
            Labels = r.Host.Labels,
            HistorySamples = r.Guests.Select(g => g.Usage.Samples).DefaultIfEmpty(r.CpuHistoryMhz.Count).Max(),
            CpuHistoryMhz = r.CpuHistoryMhz,
            SampledAt = r.SampledAt,
        };
    })]);

    /// <summary>
    /// Every guest: those hosts run (as they report them), and every other record with what its record says (lost,
    /// stopped, failed, or running on a host that cannot be reached) — so a full restart of every silo lists them all.
    /// </summary>
    public async Task<IReadOnlyList<GuestView>> Guests()
    {
        var list = LiveGuests();
        var known = list.Select(g => g.Name).ToHashSet(StringComparer.Ordinal);
        var records = await KvmCluster.Grains.Guests.GuestDirectory.All(GrainFactory);
        foreach (var (name, entry) in records.Where(r => !known.Contains(r.Key)))
        {
            if (await GrainFactory.GetGrain<IGuestGrain>(name).Get() is not { } record) continue;
            var status = entry.Status is GuestStatus.Running or GuestStatus.Migrating && entry.Host is { } h && !_fleet.IsReachable(h) ? GuestStatus.Unreachable : record.Status;
            list.Add(record with { Status = status });
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    private List<GuestView> LiveGuests()
    {
        var list = new List<GuestView>();
        foreach (var r in _fleet.Reports)
        {
            var reachable = _fleet.IsReachable(r.Host.Name);
            foreach (var g in _fleet.GuestsOn(r))
            {
                var migration = _migrations.Of(g.Name)?.Id;
                var status = !reachable ? GuestStatus.Unreachable : migration is not null ? GuestStatus.Migrating : g.Paused ? GuestStatus.Paused : GuestStatus.Running;
                list.Add(new GuestView(g.Name, g with { Host = r.Host.Name }, r.Host.Name, status, r.At, migration));
            }
        }
        return list;
    }

    public Task<string> Silo() => Task.FromResult(localSilo.Name);

    public Task<FleetSnapshot> Snapshot() => Task.FromResult(_fleet.Snapshot(options.Value.UsageSampleSeconds));

    public async Task<HostView> SetMaintenance(string host, bool on)
    {
        if (!_fleet.IsReachable(host)) throw ClusterException.NotFound($"no reachable host named '{host}'");
        await GrainFactory.GetGrain<IHostGrain>(host).SetMaintenance(on);
        await Record(on ? "maintenance-on" : "maintenance-off", host, $"host {host} maintenance {(on ? "on" : "off")}", []);
        return (await Hosts()).Single(h => h.Name == host);
    }

    public async Task<HostView> SetLabels(string host, LabelChange change)
    {
        foreach (var (field, message) in change.Problems()) throw ClusterException.Invalid(message, field);
        if (!_fleet.IsReachable(host)) throw ClusterException.NotFound($"no reachable host named '{host}'");
        var report = await GrainFactory.GetGrain<IHostGrain>(host).SetLabels(change);
        if (_fleet.Report(report, clock.Now)) RosterChanged(); // its one-way copy may still be on its way; the view below must show the change
        var changes = (change.Set ?? new Dictionary<string, string>()).Select(kv => $"{kv.Key}={kv.Value}").Concat((change.Remove ?? []).Select(k => k + "-"));
        await Record("host-labels", host, $"host {host} labels: {string.Join(" ", changes)}", [.. report.Host.Labels.Select(kv => $"{kv.Key}={kv.Value}")]);
        return (await Hosts()).Single(h => h.Name == host);
    }

    private async Task<PlacementEngine> Engine()
    {
        if (_policyStale) await ActivePolicy();
        return _engines.For(_fleet, _policy.Policy);
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

    private EventBatcher? _events;

    /// <summary>Returns once the event is stored; events recorded meanwhile share one append (in order).</summary>
    private Task Record(string kind, string subject, string message, IReadOnlyList<string> reasons) =>
        (_events ??= new EventBatcher(batch => GrainFactory.GetGrain<IEventLogGrain>(Cluster.Key).Append(batch)))
            .Add(Events.Events.New(clock.Now, kind, subject, message, reasons));
}
