using KvmCluster.Grains.Ports;
using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KvmCluster.Grains.Migrations;

/// <summary>
/// One live migration as a persistent state machine: Created → Reserved (destination prepared) → Migrating (source
/// sending) → Switching (destination takes over) → Completed; any failure or cancel → the destination copy is
/// discarded and the source resumes (Failed / Cancelled). A guest is never owned by two hosts: ownership moves only
/// in Switching, after the destination holds the whole guest. After a silo restart the reminder wakes the grain and
/// it finishes the switch or ends the migration cleanly.
/// </summary>
[Orleans.Placement.PreferLocalPlacement] // next to the scheduler that starts it: its calls stay in one silo
public sealed class MigrationGrain(
    [PersistentState("migration", StorageNames.Store)] IPersistentState<MigrationState> state,
    IOptions<MigrationGrainOptions> options,
    FleetClock clock,
    ILogger<MigrationGrain> log) : Grain, IMigrationGrain, IRemindable
{
    private const string Reminder = "watchdog";
    private IGrainTimer? _watchdog;
    private int _lostTransferChecks;
    /// <summary>The end is being recorded: Get still says Switching until the guest record and the scheduler know.</summary>
    private bool _ending;
    private KvmCluster.Policies.Migration.EscalationState? _escalation;
    /// <summary>Cancelled by the escalation schedule or its deadline: the guest dirties memory faster than it was thought to.</summary>
    private bool _notConverging;
    private string Id => this.GetPrimaryKeyString();
    private MigrationState S => state.State;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (S.Order is null || S.IsFinal) return;
        // Woken after a restart (reminder, or the source reporting its transfer's end).
        if (S.Status is MigrationStatus.Created or MigrationStatus.Reserved)
            await Fail("interrupted before the transfer started (silo restart)", MigrationStatus.Failed);
        else if (S.Status == MigrationStatus.Switching) await Switch();
        else StartWatchdog();
    }

    public async Task<MigrationView> Start(MigrationOrder order, Guest guest)
    {
        if (S.Order is not null)
            return S.Order.Guest == order.Guest && S.Order.From == order.From && S.Order.To == order.To
                ? View() : throw ClusterException.Conflict($"migration {Id} already exists for {S.Order.Guest}");
        if (order.From == order.To) throw ClusterException.Invalid($"guest '{order.Guest}' already runs on {order.To}", "to");
        S.Order = order;
        S.Guest = guest;
        S.CreatedAt = clock.Now;
        // The core computed the time limit from the policy (completionTimeoutPerGiB over memory and copied disks).
        S.Deadline = S.CreatedAt + TimeSpan.FromSeconds(order.DeadlineSeconds);
        S.Status = MigrationStatus.Created;
        await state.WriteStateAsync();
        await this.RegisterOrUpdateReminder(Reminder, options.Value.ReminderPeriod, options.Value.ReminderPeriod);
        await Record("migration-started", $"migration {Id}: {order.Guest} {order.From} → {order.To}", order.Reasons);

        var guestGrain = GrainFactory.GetGrain<IGuestGrain>(order.Guest);
        try
        {
            if (await guestGrain.Get() is null) await guestGrain.Define(guest);
            S.Endpoint = await Host(order.To).PrepareIncoming(guest, order, Id);
            S.Status = MigrationStatus.Reserved;
            await state.WriteStateAsync();
            await guestGrain.Locate(order.From, GuestStatus.Migrating, Id);
            S.Status = MigrationStatus.Migrating;
            await state.WriteStateAsync();
            await Host(order.From).MigrateOut(order.Guest, S.Endpoint, order, Id);
            StartWatchdog();
        }
        catch (Exception e) when (!S.IsFinal)
        {
            await Fail(Describe(e), MigrationStatus.Failed);
        }
        return View();
    }

    public Task<MigrationView?> Get() =>
        Task.FromResult(S.Order is null ? null : _ending && S.Status == MigrationStatus.Completed ? View() with { Status = MigrationStatus.Switching } : View());

    public async Task<MigrationView> Cancel()
    {
        if (S.Order is null) throw ClusterException.NotFound($"no migration {Id}");
        if (S.IsFinal) return View();
        if (S.Status == MigrationStatus.Switching) throw ClusterException.Conflict($"migration {Id} is switching over and can no longer be cancelled");
        if (S.Status == MigrationStatus.Migrating)
        {
            // The source stops sending and reports the end of its transfer, which cleans up.
            try { await Host(S.Order.From).CancelOutgoing(S.Order.Guest); return View(); }
            catch (Exception e) { log.LogWarning(e, "cancel of {Migration} could not reach the source", Id); }
        }
        await Fail("cancelled", MigrationStatus.Cancelled);
        return View();
    }

    public async Task Report(MigrationProgress progress)
    {
        S.Progress = progress; // kept in memory; written with the next state change
        if (S.Status != MigrationStatus.Migrating || progress.CopyingDisks) return; // the escalation schedule is for memory
        var settings = S.Order!.Settings;
        _escalation ??= KvmCluster.Policies.Migration.EscalationState.Start(settings);
        var decision = KvmCluster.Policies.Migration.MigrationEscalation.Next(settings, _escalation, (clock.Now - S.CreatedAt).TotalSeconds, progress.RemainingMiB, options.Value.EscalationWindow.TotalSeconds);
        _escalation = decision.State;
        if (decision.Step == KvmCluster.Policies.Migration.EscalationStep.None) return;
        await Record("migration-escalated", $"migration {Id}: {decision.Reason}", [decision.Reason]);
        try
        {
            switch (decision.Step)
            {
                case KvmCluster.Policies.Migration.EscalationStep.RaiseDowntime:
                    await Host(S.Order.From).AdjustOutgoing(S.Order.Guest, new MigrationAdjustment(decision.State.DowntimeMs, false));
                    break;
                case KvmCluster.Policies.Migration.EscalationStep.StartPostCopy:
                    await Host(S.Order.From).AdjustOutgoing(S.Order.Guest, new MigrationAdjustment(null, true));
                    break;
                case KvmCluster.Policies.Migration.EscalationStep.Cancel:
                    S.Reason = decision.Reason;
                    _notConverging = true;
                    await Host(S.Order.From).CancelOutgoing(S.Order.Guest);
                    break;
            }
        }
        catch (Exception e) { log.LogWarning("escalation step {Step} of {Migration} not applied: {Error}", decision.Step, Id, Describe(e)); }
    }

    public async Task TransferEnded(string? failure)
    {
        if (S.Status != MigrationStatus.Migrating) return; // already ended (idempotent)
        if (failure is null) { S.Status = MigrationStatus.Switching; await state.WriteStateAsync(); await Switch(); }
        else if (failure == "cancelled") await Fail(S.Reason ?? "cancelled", MigrationStatus.Cancelled); // the escalation schedule's reason, if it cancelled
        else await Fail(failure, MigrationStatus.Failed);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (S.Order is null || S.IsFinal) await UnregisterReminder();
    }

    private async Task Switch()
    {
        var o = S.Order!;
        // The guest's usage history goes with it (the source's, or the snapshot's if the source cannot be asked).
        var history = S.Guest!.Usage;
        try { history = await Host(o.From).UsageOf(o.Guest); }
        catch (Exception e) { log.LogInformation("usage history of {Guest} not read from {Host}: {Error}", o.Guest, o.From, e.Message); }
        try { await Host(o.To).CommitIncoming(o.Guest, Id, history); }
        catch (Exception e)
        {
            await Fail("destination could not take over: " + Describe(e), MigrationStatus.Failed);
            return;
        }
        // From here the destination runs the guest; the source copy is paused and only needs destroying.
        try { await Host(o.From).ReleaseOutgoing(o.Guest, Id); }
        catch (Exception e) { log.LogWarning(e, "source of {Migration} could not release its paused copy", Id); }
        await End(MigrationStatus.Completed, null, o.To);
    }

    private async Task Fail(string reason, MigrationStatus status)
    {
        var o = S.Order!;
        // It did not converge: what the migration measured is what the planner should expect of this guest next time.
        if (_notConverging && S.Progress is { DirtyMiBps: > 0 } progress)
        {
            try { await Host(o.From).GuestDirtied(o.Guest, progress.DirtyMiBps); }
            catch (Exception e) { log.LogInformation("dirty rate of {Guest} not kept: {Error}", o.Guest, e.Message); }
        }
        try { await Host(o.To).AbortIncoming(o.Guest, Id); }
        catch (Exception e) { log.LogInformation("destination of {Migration} not cleaned up: {Error}", Id, e.Message); }
        try { await Host(o.From).ResumeOutgoing(o.Guest, Id); }
        catch (Exception e) { log.LogWarning("source of {Migration} could not resume the guest: {Error}", Id, e.Message); }
        await End(status, reason, o.From);
    }

    private async Task End(MigrationStatus status, string? reason, string host)
    {
        var o = S.Order!;
        _ending = true;
        try
        {
            S.Status = status;
            S.Reason = reason;
            S.EndedAt = clock.Now;
            await state.WriteStateAsync();
            Telemetry.KvmMeters.Migrations.Add(1, new KeyValuePair<string, object?>("outcome", status.ToString().ToLowerInvariant()));
            _watchdog?.Dispose();
            _watchdog = null;
            try { await GrainFactory.GetGrain<IGuestGrain>(o.Guest).Locate(host, GuestStatus.Running, null); }
            catch (Exception e) { log.LogWarning(e, "guest record of {Guest} not updated", o.Guest); }
            var text = status == MigrationStatus.Completed
                ? $"migration {Id}: {o.Guest} now runs on {o.To}"
                : $"migration {Id}: {o.Guest} stays on {o.From} ({status.ToString().ToLowerInvariant()}: {reason})";
            try { await Record("migration-" + status.ToString().ToLowerInvariant(), text, reason is null ? [] : [reason]); }
            catch (Exception e) { log.LogWarning(e, "event of {Migration} not recorded", Id); } // the scheduler must still hear of it
            try { await GrainFactory.GetGrain<ISchedulerGrain>(Cluster.Key).MigrationEnded(View()); }
            catch (Exception e) { log.LogWarning(e, "scheduler not told about {Migration}", Id); }
        }
        finally { _ending = false; } // a client that sees Completed finds the guest on its new host everywhere
        await UnregisterReminder();
    }

    private void StartWatchdog() => _watchdog ??= this.RegisterGrainTimer(Watch,
        new GrainTimerCreationOptions(options.Value.WatchdogInterval, options.Value.WatchdogInterval) { KeepAlive = true });

    private async Task Watch()
    {
        if (S.Status != MigrationStatus.Migrating) return;
        var o = S.Order!;
        if (clock.Now > S.Deadline)
        {
            try { await Host(o.From).CancelOutgoing(o.Guest); } catch { /* the failure below cleans up */ }
            _notConverging = true;
            await Fail("did not complete before its deadline", MigrationStatus.Failed);
            return;
        }
        bool sending;
        try { sending = await Host(o.From).IsSending(o.Guest).WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (Exception e) { await Fail("source host unreachable: " + Describe(e), MigrationStatus.Failed); return; }
        // A source restarted mid-transfer has no transfer any more; two looks in a row rule out a race with its report.
        _lostTransferChecks = sending ? 0 : _lostTransferChecks + 1;
        if (_lostTransferChecks >= 2) await Fail("the source host lost the transfer (restarted)", MigrationStatus.Failed);
    }

    private async Task UnregisterReminder()
    {
        try
        {
            if (await this.GetReminder(Reminder) is { } r) await this.UnregisterReminder(r);
        }
        catch (Exception e) { log.LogDebug(e, "reminder of {Migration} not removed", Id); }
    }

    private Task Record(string kind, string message, IReadOnlyList<string> reasons) =>
        GrainFactory.GetGrain<IEventLogGrain>(Cluster.Key).Append([Events.Events.New(clock.Now, kind, S.Order!.Guest, message, reasons)]);

    private IHostGrain Host(string name) => GrainFactory.GetGrain<IHostGrain>(name);

    private static string Describe(Exception e) => e is ClusterException c ? c.Detail : e.GetBaseException().Message;

    private MigrationView View() => new(Id, S.Order!, S.Status, S.Reason, S.Progress, S.CreatedAt, S.EndedAt);
}
