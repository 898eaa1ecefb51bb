using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Planning;
using Microsoft.Extensions.Logging;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// Carrying plans out: the core's <see cref="PlanExecutor"/> decides every step; this grain issues its commands
/// (migration grains, the power controller), records their outcomes and persists the executor's state, so a
/// restarted scheduler resumes the plan where it was. A timer ticks while a plan executes (boots, empty hosts and
/// power-off confirmations are waited for by looking again), and a reminder wakes the grain after a silo died.
/// </summary>
public sealed partial class SchedulerGrain
{
    private const string ExecutorReminder = "plan-executor";
    private IGrainTimer? _executorTick;
    private bool _driving;
    private bool _driveAgain;
    private DateTime _lastMigrationPoll;
    private readonly HashSet<string> _statusReads = new(StringComparer.Ordinal);

    public async Task<PlanView> Execute(string id)
    {
        var plan = _plans.Find(id);
        if (state.State.Execution is { IsFinished: false } running)
            return running.PlanId == id ? WithProgress(plan) : throw ClusterException.Conflict($"plan {running.PlanId} is executing");
        if (plan.StateOf() == PlanState.Recommended) plan = await Update(id, PlanState.Approved);
        plan = await Update(id, PlanState.Executing);
        state.State.Execution = PlanExecutor.Start(id, PlanViewMapping.Steps(plan), clock.Now);
        await Save();
        await Record("plan-executing", id, $"plan {id} executing: {plan.Moves.Count} migrations, {plan.PowerActions.Count} power actions", []);
        log.LogInformation("plan {Plan} executing", id);
        await StartExecutor();
        await Drive();
        return WithProgress(_plans.Find(id));
    }

    private async Task StartExecutor()
    {
        var tick = options.Value.ExecutorTick;
        _executorTick ??= this.RegisterGrainTimer(Tick, new GrainTimerCreationOptions(tick, tick) { KeepAlive = true });
        try { await this.RegisterOrUpdateReminder(ExecutorReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)); }
        catch (Exception e) { log.LogWarning(e, "plan executor reminder not registered; a silo failure would stall the plan until the scheduler is called again"); }
    }

    private async Task StopExecutor()
    {
        _executorTick?.Dispose();
        _executorTick = null;
        try
        {
            if (await this.GetReminder(ExecutorReminder) is { } r) await this.UnregisterReminder(r);
        }
        catch (Exception e) { log.LogDebug(e, "plan executor reminder not removed"); }
    }

    /// <summary>A restarted scheduler picks the executing plan up from its persisted executor state.</summary>
    private async Task Resume(DateTimeOffset now)
    {
        state.State.Execution = PlanExecutor.Resumed(state.State.Execution!);
        _lastMigrationPoll = DateTime.MinValue; // ask every migration grain how its migration went, at the first tick
        log.LogInformation("resuming plan {Plan} at wave {Wave}", state.State.Execution.PlanId, state.State.Execution.Wave);
        await Record("plan-resumed", state.State.Execution.PlanId, $"plan {state.State.Execution.PlanId} resumed at wave {state.State.Execution.Wave} after a scheduler restart", []);
        await StartExecutor();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != ExecutorReminder) return;
        if (state.State.Execution is { IsFinished: false }) await StartExecutor();
        else await StopExecutor();
    }

    private async Task Tick()
    {
        if (state.State.Execution is not { IsFinished: false }) { await StopExecutor(); return; }
        // One-way "migration ended" calls can be lost with a silo: the migration grains are asked now and then.
        if (DateTime.UtcNow - _lastMigrationPoll >= options.Value.MigrationPoll)
        {
            _lastMigrationPoll = DateTime.UtcNow;
            await PollMigrations();
        }
        await Drive();
    }

    private async Task PollMigrations()
    {
        foreach (var active in _migrations.All.ToList())
        {
            try
            {
                if (await GrainFactory.GetGrain<IMigrationGrain>(active.Id).Get() is { Status: MigrationStatus.Completed or MigrationStatus.Failed or MigrationStatus.Cancelled } ended)
                    await Ended(ended);
            }
            catch (Exception e) { log.LogDebug(e, "migration {Migration} of {Guest} not asked", active.Id, active.Order.Guest); }
        }
    }

    public async Task MigrationEnded(MigrationView migration)
    {
        await Ended(migration);
        await Drive();
    }

    /// <summary>A migration ended (told one-way by its grain, or found by asking it): the fleet, the records, the plan.</summary>
    private async Task Ended(MigrationView migration)
    {
        var o = migration.Order;
        // An offline move ends with the guest running again where it now is (the source, when it failed), as before it.
        if (o.Offline && o.ResumeAfter && _migrations.Of(o.Guest)?.Id == migration.Id)
        {
            var where = migration.Status == MigrationStatus.Completed ? o.To : o.From;
            try { await HostGrain(where).Control(o.Guest, new GuestControl(GuestAction.Cont)); }
            catch (Exception resume) { log.LogWarning("guest {Guest} not resumed on {Host} after its offline migration: {Error}", o.Guest, where, resume.GetBaseException().Message); }
        }
        _migrations.Ended(o.Guest, migration.Id);
        var at = migration.EndedAt ?? migration.CreatedAt;
        if (migration.Status == MigrationStatus.Completed && !state.State.Recent.Any(r => r.Guest == o.Guest && r.At == at))
        {
            _fleet.Moved(o.Guest, o.From, o.To);
            RosterChanged();
            state.State.Recent.Add(new RecentMigration(o.Guest, o.From, o.To, at));
            state.State.Recent = PlanningContext.StillRecent(state.State.Recent, clock.Now);
        }
        if (o.Plan is { } plan && state.State.Execution is { } e && e.PlanId == plan && PlanViewMapping.StepOf(plan, migration.Id) is { } step)
            state.State.Execution = PlanExecutor.Record(e, new MigrationEnded(step, migration.Status == MigrationStatus.Completed, migration.Reason), clock.Now);
        await Save();
    }

    /// <summary>
    /// Asks the executor what to do now and does it. Calls arrive from requests, the tick and power commands finishing
    /// in the background; one runs at a time and a call during it makes it look again.
    /// </summary>
    private async Task Drive()
    {
        if (_driving) { _driveAgain = true; return; }
        _driving = true;
        try
        {
            do
            {
                _driveAgain = false;
                if (state.State.Execution is not { IsFinished: false } e) return;
                var policy = await ActivePolicy();
                var view = new SchedulerExecutionView(_fleet, clock.Now, options.Value.UsageSampleSeconds, _migrations.InFlight());
                var (next, commands) = PlanExecutor.Advance(e, view, policy);
                state.State.Execution = next;
                if (next.IsFinished)
                {
                    await Finish(next);
                    return;
                }
                if (!ReferenceEquals(next, e)) await Save();
                foreach (var c in commands) await Issue(next.PlanId, c, view, policy);
            } while (_driveAgain);
        }
        finally { _driving = false; }
    }

    private async Task Issue(string planId, ExecutionCommand command, SchedulerExecutionView view, KvmCluster.Policies.Rules.Policy policy)
    {
        if (command is not StartMigration m)
        {
            _ = PowerCommand(planId, command); // a BMC may take a minute to answer; the scheduler does not wait for it
            return;
        }
        var id = PlanViewMapping.MigrationId(planId, m.Step);
        var move = _plans.Find(planId).Moves.FirstOrDefault(x => x.Step == m.Step);
        var reasons = move?.Reasons ?? [];
        string? failure = null;
        string? pausedOn = null; // a guest this paused for an offline move, to run again if the move does not start
        try
        {
            var guest = view.Fleet().FindGuest(m.Guest) ?? throw ClusterException.NotFound($"guest {m.Guest} is gone");
            var order = MigrationOrder.For(policy.Migration, guest, m.To, planId, reasons);
            // Paused for the whole move, its disks copied; it runs again where it arrives (Ended resumes it).
            if (move?.Offline == true) (order, guest, pausedOn) = await OfflineOrder(policy.Migration, guest, m.To, planId, reasons);
            var started = await StartMigration(id, order, guest);
            if (started.Status is MigrationStatus.Failed or MigrationStatus.Cancelled) failure = started.Reason ?? started.Status.ToString();
        }
        catch (Exception e) { failure = e is ClusterException c ? c.Detail : e.GetBaseException().Message; }
        if (failure is not null && pausedOn is not null)
            try { await HostGrain(pausedOn).Control(m.Guest, new GuestControl(GuestAction.Cont)); }
            catch (Exception e) { log.LogWarning("guest {Guest} not resumed on {Host}: {Error}", m.Guest, pausedOn, e.GetBaseException().Message); }
        if (failure is not null && state.State.Execution is { } ex && ex.PlanId == planId)
        {
            state.State.Execution = PlanExecutor.Record(ex, new MigrationEnded(m.Step, false, failure), clock.Now);
            _driveAgain = true;
        }
    }

    private async Task<MigrationView> StartMigration(string id, MigrationOrder order, Guest guest)
    {
        _migrations.Started(id, order);
        MigrationView view;
        try { view = await GrainFactory.GetGrain<IMigrationGrain>(id).Start(order, guest); }
        catch
        {
            _migrations.Ended(order.Guest, id);
            throw;
        }
        if (view.Status is MigrationStatus.Failed or MigrationStatus.Cancelled) _migrations.Ended(order.Guest, id);
        await Save();
        return view;
    }

    /// <summary>Runs a power command in the background and records its outcome for the executor.</summary>
    private async Task PowerCommand(string planId, ExecutionCommand command)
    {
        var (host, verb) = command switch
        {
            PowerOnHost on => (on.Host, "power-on"),
            PowerOffHost off => (off.Host, "power-off"),
            ReadPowerStatus read => (read.Host, "status"),
            _ => throw new ArgumentException($"not a power command: {command}", nameof(command)),
        };
        StepOutcome outcome;
        try
        {
            switch (command)
            {
                case PowerOnHost:
                    await power.PowerOnAsync(host, CancellationToken.None);
                    outcome = new PowerCommandDone(command.Step);
                    break;
                case PowerOffHost:
                    await power.PowerOffAsync(host, CancellationToken.None);
                    outcome = new PowerCommandDone(command.Step);
                    break;
                default:
                    var status = Map(await power.StatusAsync(host, CancellationToken.None));
                    SetPowerStatus(host, status);
                    outcome = new PowerStatusRead(command.Step, status);
                    break;
            }
        }
        catch (Exception e)
        {
            var why = e.GetBaseException().Message;
            outcome = command is ReadPowerStatus ? new PowerStatusRead(command.Step, null, why) : new PowerCommandDone(command.Step, why);
            if (command is not ReadPowerStatus)
            {
                log.LogWarning("{Verb} {Host} for plan {Plan} failed: {Error}", verb, host, planId, why);
                await Record("host-power-failed", host, $"host {host} {verb} failed (plan {planId}): {why}", [why]);
            }
        }
        if (command is not ReadPowerStatus && outcome is PowerCommandDone { Error: null })
        {
            var reasons = _plans.Find(planId).PowerActions.FirstOrDefault(p => p.Step == command.Step)?.Reasons ?? [];
            log.LogInformation("{Verb} {Host} done for plan {Plan}", verb, host, planId);
            _ = RefreshPowerStatus(host); // what the controller says now, for a host that stops or starts reporting
            await Record("host-" + verb, host, verb == "power-on"
                ? $"host {host} powered on (plan {planId}); waiting for it to report as on"
                : $"host {host} powered off (plan {planId}); waiting for the power controller to say off", reasons);
        }
        if (state.State.Execution is { } execution && execution.PlanId == planId)
        {
            state.State.Execution = PlanExecutor.Record(execution, outcome, clock.Now);
            await Save();
        }
        await Drive();
    }

    private async Task Finish(PlanExecution e)
    {
        var plan = _plans.Find(e.PlanId).WithProgress(e);
        if (e.State != PlanState.Cancelled) plan = plan.WithState(e.State);
        _plans.Replace(plan);
        state.State.Execution = null;
        await Save();
        await StopExecutor();
        if (e.State == PlanState.Cancelled) return; // recorded when it was cancelled
        var text = e.State == PlanState.Succeeded ? $"plan {e.PlanId} SUCCEEDED" : $"plan {e.PlanId} FAILED: {e.Failure}";
        if (e.State == PlanState.Succeeded) log.LogInformation("{Text}", text); else log.LogWarning("{Text}", text);
        await Record("plan-" + e.State.ToString().ToLowerInvariant(), e.PlanId, text, e.Failure is null ? [] : [e.Failure]);
    }

    /// <summary>Hosts that do not report: their power state is asked of the power controller (on a timer and after actions).</summary>
    private void PollPowerStatus()
    {
        foreach (var host in _fleet.Unreachable().ToList()) _ = RefreshPowerStatus(host);
    }

    private async Task RefreshPowerStatus(string host)
    {
        if (!_statusReads.Add(host)) return;
        try { SetPowerStatus(host, Map(await power.StatusAsync(host, CancellationToken.None))); }
        catch (Exception e) { log.LogDebug("power status of {Host} not read: {Error}", host, e.Message); }
        finally { _statusReads.Remove(host); }
    }

    private void SetPowerStatus(string host, PowerState? p)
    {
        if (state.State.PowerStatus.TryGetValue(host, out var old) ? old == p : p is null) return;
        if (p is { } known) state.State.PowerStatus[host] = known; else state.State.PowerStatus.Remove(host);
        _fleet.PowerStatus(host, p);
        _ = SaveQuietly();
    }

    /// <summary>A save nobody waits for (a power status learned in the background): its failure is logged, and the next save writes it.</summary>
    private async Task SaveQuietly()
    {
        try { await Save(); }
        catch (Exception e) { log.LogWarning(e, "scheduler state not written; the next change writes it"); }
    }

    private static PowerState? Map(HostPowerStatus s) => s switch
    {
        HostPowerStatus.On => PowerState.On,
        HostPowerStatus.Standby => PowerState.Standby,
        HostPowerStatus.Off => PowerState.Off,
        _ => null,
    };
}
