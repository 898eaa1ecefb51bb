using KvmCluster.Policies.Balancing.Adaptive;
using KvmCluster.Sim.Datacenter;
using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// The event loop. In CloudSim-compatible mode it reproduces CloudSim 4.0's timeline: VMs created at 0 and
/// started at 0.1 s, a datacenter update (and decision) every interval after that, and an extra update when
/// a migration completes (RAM / (BW / 2) after it started). In native mode VMs also arrive and leave as the
/// trace says, migrations take what the cost model predicts, and hosts boot and power off (see
/// <see cref="Models.ISimModel"/>: every rule where the two differ). Policy decisions come from src/Policies: the adaptive optimiser
/// through its port, or the live planner through fleet snapshots (<see cref="PlanDriver"/>).
/// </summary>
public sealed class Simulation
{
    private readonly SimDatacenter _dc;
    private readonly SimPolicy _policy;
    private readonly SimOptions _options;
    private readonly Models.ISimModel _model;
    private readonly Decisions.ISimDecisions _decisions;
    private readonly SimPower _power;
    private readonly SimRecorder _recorder = new();
    private readonly SimMigrations _migrations;
    private readonly PriorityQueue<SimEvent, (double, long)> _events = new();
    private readonly Action<double>? _progress;
    private long _serial;
    private double _lastProcess;
    private List<int>? _completed;
    private readonly long _seed;
    private readonly string _datacenter;

    internal abstract record SimEvent;
    private sealed record UpdateEvent : SimEvent;
    internal sealed record MigrationEnd(int Vm, int Target) : SimEvent;
    private sealed record Arrival(List<int> Vms) : SimEvent;
    private sealed record Departure(int Vm) : SimEvent;
    internal sealed record BootDone(int Host) : SimEvent;

    /// <param name="decisions">For planner-family policies: where placements and plans come from (default: the core directly).</param>
    public Simulation(DatacenterSpec spec, Trace trace, SimPolicy policy, SimOptions options, long seed, Action<double>? progress = null,
        Func<SimDatacenter, IDecisionSource>? decisions = null)
    {
        _policy = policy;
        _options = options;
        _model = options.Model;
        _progress = progress;
        _seed = seed;
        _datacenter = spec.Name;
        var types = spec.HostTypes.ToList();
        var migratingOut = new List<int>?[trace.Workloads.Count];
        var hosts = spec.Hosts().Select((t, i) => new SimHost(i, t, migratingOut) { TypeIndex = types.IndexOf(t) }).ToArray();
        _dc = new SimDatacenter(hosts, VmFactory.Create(spec, trace.Workloads), options)
        {
            PerHostEnergy = options.Model.HostsIntegrateOwnEnergy && policy.Kind != SimPolicyKind.NonPowerAware,
        };
        _power = new SimPower(options, policy.Kind == SimPolicyKind.NonPowerAware);
        _migrations = new SimMigrations(_dc, options, policy.Policy, Schedule);
        _decisions = policy.Kind switch
        {
            SimPolicyKind.Adaptive when !options.LivePlanner => new Decisions.AdaptiveDecisions(_dc, _migrations,
                AdaptiveFactory.Create(policy.Policy.Adaptive, options.Interval, new Random(unchecked((int)seed))), policy.Policy.Adaptive, _model),
            SimPolicyKind.Planner or SimPolicyKind.Adaptive => new Decisions.PlannerDecisions(
                new PlanDriver(_dc, _migrations, book => decisions?.Invoke(_dc) ?? new DirectDecisions(_dc, policy.Policy, book), policy.Policy, options)),
            _ => new Decisions.FirstFitDecisions(_dc),
        };
    }

    public SimDatacenter Datacenter => _dc;

    /// <summary>Placements and plans in order (planner-family policies), to compare a replay through the cluster with a direct one.</summary>
    public IReadOnlyList<string> Decisions => _decisions.Decisions;

    /// <summary>Plans the executor failed, with the reason (planner-family policies).</summary>
    public IReadOnlyList<string> PlanFailures => _decisions.Failures;

    public SimResult Run(string traceName)
    {
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var initial = new List<int>();
        var arrivals = new SortedDictionary<double, List<int>>();
        for (var v = 0; v < _dc.Vms.Length; v++)
        {
            var w = _dc.Vms[v].Workload;
            if (w.Arrival <= 0 || _model.AllGuestsAtStart) initial.Add(v);
            else if (w.Arrival < _options.Limit)
            {
                if (!arrivals.TryGetValue(w.Arrival, out var batch)) arrivals[w.Arrival] = batch = [];
                batch.Add(v);
            }
            if (!_model.AllGuestsAtStart && w.Departure < _options.Limit) Schedule(Math.Max(w.Departure, w.Arrival), new Departure(v));
        }
        foreach (var (time, batch) in arrivals) Schedule(time, new Arrival(batch));
        PlaceBatch(initial);
        if (_model.HasPowerStates) _migrations.PowerOffEmptyHosts(_options.StartOffset, all: true);
        _dc.Clock = _options.StartOffset;
        if (!_model.SettlesEachEvent) foreach (var v in initial) _dc.Vms[v].Started = !_dc.Vms[v].Rejected;
        Schedule(_options.StartOffset + _options.Interval, new UpdateEvent());

        while (_events.TryPeek(out _, out var key) && key.Item1 < _options.Limit)
        {
            var e = _events.Dequeue();
            _dc.Clock = key.Item1;
            switch (e)
            {
                case UpdateEvent: OnUpdate(); break;
                case MigrationEnd m: OnMigrationEnd(m); break;
                case Arrival a: OnArrivals(a.Vms); break;
                case Departure d: OnDeparture(d.Vm); break;
                case BootDone b:
                    if (!_model.SettlesEachEvent) UpdateAll();
                    _migrations.OnBootDone(b.Host);
                    _decisions.Progress();
                    break;
            }
        }
        foreach (var h in _dc.Hosts) h.State.Close();
        var names = new SimSummary
        {
            SimulatedSeconds = _options.Limit,
            WallSeconds = wall.Elapsed.TotalSeconds,
            Policy = _policy.Name,
            Trace = traceName,
            CloudSimCompat = _model.IsCloudSim,
            Seed = _seed,
            Datacenter = _datacenter,
        };
        return new SimResult(SimRecorder.Summarise(_dc, _power, _migrations, names), _recorder.Series, _recorder.UtilizationHistogram);
    }

    private void Schedule(double time, SimEvent e) => _events.Enqueue(e, (time, _serial++));

    /// <summary>
    /// Places arriving VMs, each asking for its full MIPS: the adaptive family with PABFD, the planner family
    /// with the policy's own placement, NPA and DVFS with CloudSim's first fit. A VM no host can take is
    /// rejected (and counted).
    /// </summary>
    private void PlaceBatch(List<int> batch)
    {
        var placer = _decisions.StartPlacement(batch);
        foreach (var v in batch)
        {
            var host = placer.Find(v);
            var vm = _dc.Vms[v];
            vm.ProcessedAt = _dc.Clock;
            if (host >= 0 && _model.SettlesEachEvent) _dc.UpdateHost(host, _dc.Clock); // its energy up to now
            var created = host >= 0 && _dc.VmCreate(host, v);
            // CloudSim clears the flag as soon as the VM exists: later placements see it request nothing until it runs.
            vm.BeingInstantiated = false;
            if (!created) { vm.Rejected = true; continue; }
            if (_model.SettlesEachEvent)
            {
                // Native: a guest runs as soon as it is created on a running host (it waits for a booting one);
                // it asked for its full size to be placed, and from now on it is allocated what it uses.
                _migrations.WakeForArrival(host, v);
                vm.Started = _dc.Hosts[host].Power == HostPower.On;
                _dc.UpdateHost(host, _dc.Clock);
            }
            placer.Placed(host);
        }
    }

    private void OnArrivals(List<int> batch) => PlaceBatch(batch);

    private void OnDeparture(int v)
    {
        var vm = _dc.Vms[v];
        if (vm.Gone || vm.Rejected) return;
        var target = _migrations.TargetOf(v);
        if (vm.Host >= 0) _dc.UpdateHost(vm.Host, _dc.Clock);
        if (target >= 0) _dc.UpdateHost(target, _dc.Clock);
        _migrations.Cancel(v);
        if (vm.Host >= 0)
        {
            var h = vm.Host;
            _dc.VmDestroy(h, v);
            _dc.UpdateHost(h, _dc.Clock);
        }
        vm.Gone = true;
    }

    private readonly List<int> _updated = [];
    private bool[]? _updatedFlags;

    private void UpdateAll()
    {
        var now = _dc.Clock;
        _updated.Clear();
        _dc.ProcessAll(now);
        _updatedFlags ??= new bool[_dc.Hosts.Length];
        _dc.UpdateHosts(now, _updatedFlags);
        for (var h = 0; h < _updatedFlags.Length; h++)
            if (_updatedFlags[h]) _updated.Add(h);
        _power.Accumulate(_dc.Hosts, _updated, now - _lastProcess);
        _lastProcess = now;
        if (_model.RemovesIdleGuests) RemoveCompletedVms();
    }

    /// <summary>
    /// CloudSim's PowerDatacenter destroys every VM (not in migration) whose request is 0 MIPS after an update
    /// (HostDynamicWorkload.getCompletedVms), so a VM idle for a whole trace interval leaves the datacenter for
    /// good. Replicated for parity; without compat an idle guest simply stays where it is.
    /// </summary>
    private void RemoveCompletedVms()
    {
        foreach (var h in _updated) // a host not updated has no VMs
        {
            var vms = _dc.Hosts[h].Vms;
            for (var i = vms.Count - 1; i >= 0; i--)
            {
                var vm = _dc.Vms[vms[i]];
                if (vm.InMigration || vm.RequestedMips != 0) continue;
                (_completed ??= []).Add(vms[i]);
            }
            if (_completed is not { Count: > 0 }) continue;
            _completed.Reverse(); // destroy in the host's list order, as CloudSim does
            foreach (var v in _completed)
            {
                _dc.VmDestroy(h, v);
                _dc.Vms[v].Gone = true;
            }
            _completed.Clear();
        }
    }

    private void OnUpdate()
    {
        UpdateAll();
        _migrations.StepStarted();
        _decisions.Round();
        _recorder.Record(_dc, _power, _dc.Clock, _migrations.ThisStep);
        Schedule(_dc.Clock + _options.Interval, new UpdateEvent());
        _progress?.Invoke(_dc.Clock / _options.Limit);
    }

    private void OnMigrationEnd(MigrationEnd m)
    {
        if (_model.SettlesEachEvent)
        {
            // Native: only the two hosts involved change; each settles its energy before and after.
            var source = _dc.Vms[m.Vm].Host;
            if (source >= 0) _dc.UpdateHost(source, _dc.Clock);
            _dc.UpdateHost(m.Target, _dc.Clock);
            if (_migrations.Complete(m.Vm, m.Target))
            {
                if (source >= 0) _dc.UpdateHost(source, _dc.Clock);
                _dc.UpdateHost(m.Target, _dc.Clock);
            }
            _decisions.Progress();
            return;
        }
        if (_dc.Clock > _lastProcess) UpdateAll();
        if (!_migrations.Complete(m.Vm, m.Target)) return;
        // CloudSim updates once more unless another migration ends at the same instant.
        if (!(_events.TryPeek(out var next, out var key) && key.Item1 == _dc.Clock && next is MigrationEnd)) UpdateAll();
        _decisions.Progress();
    }
}
