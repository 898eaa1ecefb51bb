using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Sim.Engine;

/// <summary>
/// Runs a planner-family policy exactly as a live scheduler does: at each update every running guest is sampled, a
/// fleet snapshot goes to <see cref="Policies.Planning.Rebalancer.Plan"/>, and the plan is carried out by the core's
/// <see cref="PlanExecutor"/> — the same state machine the scheduler grain drives — with the simulated datacenter as
/// its shell: migrations take their modelled time, power-ons boot, a power-off waits for its host to be empty. No new
/// plan is made while one (or any of its migrations) is still being carried out. Arriving VMs are placed with the
/// policy's own placement engine. Placements and plans come from an <see cref="IDecisionSource"/>: the core directly,
/// or a cluster running it.
/// </summary>
internal sealed class PlanDriver
{
    private readonly SimDatacenter _dc;
    private readonly SimMigrations _migrations;
    private readonly IDecisionSource _decisions;
    private readonly Policy _policy;
    private readonly SimUsageBook _usage;
    private PlanExecution? _execution;
    private readonly SortedDictionary<int, (int Vm, int From, int To)> _moving = []; // step → its migration

    public PlanDriver(SimDatacenter dc, SimMigrations migrations, Func<SimUsageBook, IDecisionSource> decisions, Policy policy, SimOptions options)
    {
        _dc = dc;
        _migrations = migrations;
        _policy = policy;
        _usage = new SimUsageBook(dc, policy, options);
        _decisions = decisions(_usage);
    }

    public int Plans { get; private set; }

    /// <summary>Every decision in order (placements and plans), for comparing replays.</summary>
    public List<string> Decisions { get; } = [];

    /// <summary>Plans that failed, with the reason (a step that no longer held, a migration that did not converge).</summary>
    public List<string> Failures { get; } = [];

    private DateTimeOffset Now => DateTimeOffset.UnixEpoch.AddSeconds(_dc.Clock);

    public int Place(int v)
    {
        var h = _decisions.Place(v);
        Decisions.Add($"{_dc.Clock:0.###} place {SimFleetSnapshot.GuestName(v)} {(h >= 0 ? SimFleetSnapshot.HostName(h) : "rejected")}");
        return h;
    }

    /// <summary>An update: sample every guest, then plan unless a plan is still being carried out.</summary>
    public void Step()
    {
        _usage.Sample();
        _decisions.Sample(Now);
        if (_execution is { IsFinished: false } || _moving.Count > 0) { Progress(); return; }
        var link = SimOptions.LinkFor(_dc.Hosts.Min(h => h.Type.BwKbps));
        var (id, steps) = _decisions.Plan(Now, link);
        Plans++;
        Decisions.Add($"{_dc.Clock:0.###} plan: {steps.Count} actions");
        foreach (var s in steps) Decisions.Add($"{_dc.Clock:0.###} plan wave {s.Wave}: {Describe(s)}");
        _execution = PlanExecutor.Start(id, steps, Now);
        Progress();
    }

    private static string Describe(PlanStep s) => s.Kind switch
    {
        StepKind.Migrate => $"migrate {s.Guest} {s.From} -> {s.Host}",
        StepKind.PowerOn => $"power-on {s.Host}",
        _ => $"power-off {s.Host}",
    };

    /// <summary>Called after migrations end and boots finish: records what ended and lets the executor go on.</summary>
    public void Progress()
    {
        foreach (var (step, (v, from, to)) in _moving.ToList())
        {
            var vm = _dc.Vms[v];
            if (vm.InMigration) continue;
            _moving.Remove(step);
            // A guest stays where it is after its migration was cancelled (it left, or it did not converge).
            var completed = !vm.Gone && vm.Host == to;
            if (completed) _decisions.MigrationCompleted(v, from, to);
            if (_execution?.PlanId is { } plan && _execution.Plan.Any(p => p.Step == step))
                _execution = PlanExecutor.Record(_execution, new MigrationEnded(step, completed, vm.Gone ? "the guest left" : completed ? null : "did not converge"), Now);
        }
        while (_execution is { IsFinished: false } e)
        {
            var moving = _moving.Values.Select(m => new InFlightMigration(SimFleetSnapshot.GuestName(m.Vm), SimFleetSnapshot.HostName(m.From), SimFleetSnapshot.HostName(m.To))).ToList();
            var (next, commands) = PlanExecutor.Advance(e, new SimExecutionView(_dc, _usage, Now, moving), _policy);
            _execution = next;
            if (next.State == PlanState.Failed) Failures.Add($"{_dc.Clock:0.###} {next.PlanId}: {next.Failure}");
            var recorded = false;
            foreach (var c in commands) recorded |= Carry(c);
            if (!recorded) break;
        }
    }

    /// <summary>Carries a command out in the datacenter; true when its outcome is known at once.</summary>
    private bool Carry(ExecutionCommand command)
    {
        StepOutcome? outcome = null;
        switch (command)
        {
            case StartMigration m:
                {
                    var v = SimFleetSnapshot.VmIndex(m.Guest);
                    var to = SimFleetSnapshot.HostIndex(m.To);
                    // The executor checked the core's constraints; the simulated hardware has the last word on room.
                    if (!_dc.IsSuitable(to, v)) { outcome = new MigrationEnded(m.Step, false, $"{m.To} has no room in the simulated datacenter"); break; }
                    _migrations.Start(v, to);
                    _moving[m.Step] = (v, SimFleetSnapshot.HostIndex(m.From), to);
                    break;
                }
            case PowerOnHost on:
                _migrations.WakeHost(SimFleetSnapshot.HostIndex(on.Host));
                outcome = new PowerCommandDone(on.Step);
                break;
            case PowerOffHost off:
                outcome = new PowerCommandDone(off.Step, _migrations.PowerOff(SimFleetSnapshot.HostIndex(off.Host)) ? null : $"{off.Host} is not empty and on");
                break;
            case ReadPowerStatus read:
                outcome = new PowerStatusRead(read.Step, SimExecutionView.PowerOf(_dc.Hosts[SimFleetSnapshot.HostIndex(read.Host)]));
                break;
        }
        if (outcome is null) return false;
        _execution = PlanExecutor.Record(_execution!, outcome, Now);
        return true;
    }
}

/// <summary>The simulated datacenter as the plan executor sees it: a booting host does not report yet.</summary>
internal sealed class SimExecutionView(SimDatacenter dc, SimUsageBook usage, DateTimeOffset now, IReadOnlyList<InFlightMigration> moving) : IExecutionView
{
    private FleetSnapshot? _fleet;

    public DateTimeOffset Now => now;

    public FleetSnapshot Fleet() => _fleet ??= usage.Snapshot();

    public HostSighting? Host(string name)
    {
        var h = dc.Hosts[SimFleetSnapshot.HostIndex(name)];
        return new HostSighting(PowerOf(h), h.Power == HostPower.On ? now : null, [.. h.Vms.Select(SimFleetSnapshot.GuestName)]);
    }

    /// <summary>The plan's own migrations under way (the simulator starts no others while a plan runs).</summary>
    public IReadOnlyList<InFlightMigration> InFlight => moving;

    /// <summary>Off in the native model is standby (standby watts, boots in bootSeconds); booting is not on yet.</summary>
    public static PowerState PowerOf(SimHost h) => h.Power switch
    {
        HostPower.On => PowerState.On,
        HostPower.Off => PowerState.Standby,
        _ => PowerState.Off,
    };
}
