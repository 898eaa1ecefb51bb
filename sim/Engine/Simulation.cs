using KvmCluster.Policies.Balancing.Adaptive;
using KvmCluster.Sim.Datacenter;
using KvmCluster.Sim.Traces;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// The event loop. In CloudSim-compatible mode it reproduces CloudSim 4.0's timeline: VMs created at 0 and
/// started at 0.1 s, a datacenter update (and decision) every interval after that, and an extra update when
/// a migration completes (RAM / (BW / 2) after it started). Energy and SLA metrics are computed as CloudSim's
/// Helper computes them.
/// </summary>
public sealed class Simulation
{
    private readonly SimDatacenter _dc;
    private readonly SimPolicy _policy;
    private readonly SimOptions _options;
    private readonly AdaptiveOptimizer? _optimizer;
    private readonly PriorityQueue<SimEvent, (double, long)> _events = new();
    private long _serial;
    private double _lastProcess;
    private double _energyJoules;
    private int _migrations;
    private int _migrationsThisStep;
    private readonly List<TimeSeriesRow> _series = [];
    private readonly List<double> _utilizations = [];
    private readonly Action<double>? _progress;

    private abstract record SimEvent;
    private sealed record UpdateEvent : SimEvent;
    private sealed record MigrationEnd(int Vm, int Target) : SimEvent;

    public Simulation(DatacenterSpec spec, IReadOnlyList<VmWorkload> workloads, SimPolicy policy, SimOptions options, long seed, Action<double>? progress = null)
    {
        _policy = policy;
        _options = options;
        _progress = progress;
        var hosts = spec.Hosts().Select((t, i) => new SimHost(i, t)).ToArray();
        var vms = new SimVm[workloads.Count];
        for (var i = 0; i < vms.Length; i++)
        {
            var type = spec.VmTypeFor(i, vms.Length);
            vms[i] = new SimVm(i, workloads[i].Name, type.Mips, type.RamMiB, type.BwKbps, workloads[i]);
        }
        _dc = new SimDatacenter(hosts, vms, options);
        if (policy.Kind == SimPolicyKind.Adaptive)
            _optimizer = AdaptiveFactory.Create(policy.Policy.Adaptive, options.Interval, new Random(unchecked((int)seed)));
    }

    public SimDatacenter Datacenter => _dc;

    public SimResult Run(string traceName)
    {
        var wall = System.Diagnostics.Stopwatch.StartNew();
        PlaceInitially();
        _dc.Clock = _options.StartOffset;
        foreach (var vm in _dc.Vms) vm.Started = true;
        Schedule(_options.StartOffset + _options.Interval, new UpdateEvent());

        while (_events.TryPeek(out _, out var key) && key.Item1 < _options.Limit)
        {
            var e = _events.Dequeue();
            _dc.Clock = key.Item1;
            switch (e)
            {
                case UpdateEvent: OnUpdate(); break;
                case MigrationEnd m: OnMigrationEnd(m); break;
            }
        }
        foreach (var h in _dc.Hosts) h.State.Close();
        return new SimResult(Summarise(traceName, wall.Elapsed.TotalSeconds), _series, _utilizations);
    }

    private void Schedule(double time, SimEvent e) => _events.Enqueue(e, (time, _serial++));

    /// <summary>t = 0: the adaptive family places with PABFD, the static ones first-fit; every VM asks for its full MIPS.</summary>
    private void PlaceInitially()
    {
        var excluded = new bool[_dc.Hosts.Length];
        _optimizer?.Measure(_dc);
        for (var v = 0; v < _dc.Vms.Length; v++)
        {
            var host = _optimizer is not null ? _optimizer.FindHost(_dc, v, excluded) : FirstFit(v);
            if (host >= 0 && _dc.VmCreate(host, v))
            {
                _dc.Vms[v].BeingInstantiated = false;
                _dc.Vms[v].ProcessedAt = 0;
            }
        }
    }

    private int FirstFit(int v)
    {
        for (var h = 0; h < _dc.Hosts.Length; h++)
            if (_dc.IsSuitable(h, v)) return h;
        return -1;
    }

    private void UpdateAll()
    {
        var now = _dc.Clock;
        for (var h = 0; h < _dc.Hosts.Length; h++) _dc.UpdateHost(h, now);
        var dt = now - _lastProcess;
        if (dt > 0)
        {
            foreach (var host in _dc.Hosts)
            {
                if (_policy.Kind == SimPolicyKind.NonPowerAware) { _energyJoules += host.Type.Power.MaxWatts * dt; continue; }
                var from = host.PreviousUtilization;
                if (from == 0) continue; // CloudSim: a host idle at the start of the interval costs nothing
                var pFrom = host.Type.Power.At(from);
                var pTo = host.Type.Power.At(host.Utilization);
                _energyJoules += (pFrom + (pTo - pFrom) / 2) * dt;
            }
        }
        _lastProcess = now;
        if (_options.CloudSimCompat) RemoveCompletedVms();
    }

    /// <summary>
    /// CloudSim's PowerDatacenter destroys every VM (not in migration) whose request is 0 MIPS after an update
    /// (HostDynamicWorkload.getCompletedVms), so a VM idle for a whole trace interval leaves the datacenter for
    /// good. Replicated for parity; without compat an idle guest simply stays where it is.
    /// </summary>
    private void RemoveCompletedVms()
    {
        for (var h = 0; h < _dc.Hosts.Length; h++)
        {
            var vms = _dc.Hosts[h].Vms;
            for (var i = vms.Count - 1; i >= 0; i--)
            {
                var vm = _dc.Vms[vms[i]];
                if (vm.InMigration || vm.RequestedMips != 0) continue;
                _completed ??= [];
                _completed.Add(vms[i]);
            }
            if (_completed is not { Count: > 0 }) continue;
            _completed.Reverse(); // destroy in the host's list order, as CloudSim does
            foreach (var v in _completed)
            {
                _dc.VmDestroy(h, v);
                _dc.Vms[v].Removed = true;
            }
            _completed.Clear();
        }
    }

    private List<int>? _completed;

    private void OnUpdate()
    {
        UpdateAll();
        _migrationsThisStep = 0;
        if (_optimizer is not null)
        {
            var moves = _optimizer.Optimize(_dc, maxConsolidations: null);
            foreach (var m in moves) StartMigration(m.Vm, m.Host);
        }
        Record();
        Schedule(_dc.Clock + _options.Interval, new UpdateEvent());
        _progress?.Invoke(_dc.Clock / _options.Limit);
    }

    private void StartMigration(int v, int target)
    {
        _dc.AddMigratingIn(target, v);
        _migrations++;
        _migrationsThisStep++;
        var vm = _dc.Vms[v];
        Schedule(_dc.Clock + vm.Ram / (_dc.Hosts[target].Type.BwKbps / (2 * 8000.0)), new MigrationEnd(v, target));
    }

    private void OnMigrationEnd(MigrationEnd m)
    {
        if (_dc.Clock > _lastProcess) UpdateAll();
        _dc.CompleteMigration(m.Vm, m.Target);
        // CloudSim updates once more unless another migration ends at the same instant.
        if (!(_events.TryPeek(out var next, out var key) && key.Item1 == _dc.Clock && next is MigrationEnd)) UpdateAll();
    }

    private void Record()
    {
        int active = 0, overloaded = 0;
        double power = 0, utilization = 0;
        foreach (var h in _dc.Hosts)
        {
            var u = h.Utilization;
            if (_policy.Kind == SimPolicyKind.NonPowerAware) power += h.Type.Power.MaxWatts;
            if (h.UtilizationMips <= 0) continue;
            active++;
            utilization += u;
            _utilizations.Add(u);
            if (_policy.Kind != SimPolicyKind.NonPowerAware) power += h.Type.Power.At(Math.Min(1, u));
            var requested = 0.0;
            foreach (var v in h.Vms) if (!h.MigratingIn.Contains(v)) requested += _dc.Vms[v].RequestedMips;
            if (requested > h.TotalMips) overloaded++;
        }
        _series.Add(new TimeSeriesRow(_dc.Clock, active, power, overloaded, _migrationsThisStep, active > 0 ? utilization / active : 0));
    }

    private SimSummary Summarise(string traceName, double wallSeconds)
    {
        double active = 0, violation = 0, allocated = 0, requested = 0, underMigration = 0, share = 0;
        int shutdowns = 0, violations = 0;
        foreach (var h in _dc.Hosts) { active += h.State.ActiveSeconds; violation += h.State.ViolationSeconds; shutdowns += h.State.Shutdowns; }
        foreach (var vm in _dc.Vms)
        {
            allocated += vm.State.Allocated;
            requested += vm.State.Requested;
            underMigration += vm.State.UnderAllocatedInMigration;
            share += vm.State.ViolationShare;
            violations += vm.State.Violations;
        }
        var slatah = active > 0 ? violation / active : 0;
        var pdm = requested > 0 ? underMigration / requested : 0;
        var energy = _energyJoules / (3600 * 1000);
        return new SimSummary
        {
            EnergyKWh = energy,
            Migrations = _migrations,
            Slatah = slatah,
            Pdm = pdm,
            Slav = slatah * pdm,
            Esv = energy * slatah * pdm,
            OverallSlaViolation = requested > 0 ? (requested - allocated) / requested : 0,
            AverageSlaViolation = violations > 0 ? share / violations : 0,
            HostShutdowns = shutdowns,
            Hosts = _dc.Hosts.Length,
            Vms = _dc.Vms.Length,
            SimulatedSeconds = _options.Limit,
            WallSeconds = wallSeconds,
            Policy = _policy.Name,
            Trace = traceName,
            CloudSimCompat = _options.CloudSimCompat,
        };
    }
}
