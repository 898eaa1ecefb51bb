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
public sealed partial class SchedulerGrain(
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

    public async Task<HostView> SetMaintenance(string host, bool on)
    {
        if (!_fleet.IsReachable(host)) throw ClusterException.NotFound($"no reachable host named '{host}'");
        await GrainFactory.GetGrain<IHostGrain>(host).SetMaintenance(on);
        await Record(on ? "maintenance-on" : "maintenance-off", host, $"host {host} maintenance {(on ? "on" : "off")}", []);
        return (await Hosts()).Single(h => h.Name == host);
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

    private Task Record(string kind, string subject, string message, IReadOnlyList<string> reasons)
    {
        FlushPlacedEvents(); // keep the log in order
        return GrainFactory.GetGrain<IEventLogGrain>(Cluster.Key).Append([Events.Events.New(clock.Now, kind, subject, message, reasons)]);
    }
}
