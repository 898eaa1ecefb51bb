using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KvmCluster.Grains.Migrations;

/// <summary>
/// One live migration as a persistent state machine with a single decision point (docs/migration-protocol.md):
/// Created → Reserved (destination prepared, paused) → Migrating (source sending) → Switching (decided complete: the
/// destination is resumed, the source copy released) → Completed; or → Failing (decided failed: the incoming copy
/// discarded, the source resumed) → Failed | Cancelled; or Migrating → PostCopy (the destination runs from the switch).
/// The outcome is decided only from facts both hosts give (<see cref="MigrationProtocol"/>), never from a timeout
/// alone; every decision is written before it is acted on, and every action is repeated until it is done, so a silo
/// dying at any step — the source's, the destination's, this grain's — delays the outcome but never changes it.
/// </summary>
[Orleans.Placement.PreferLocalPlacement] // next to the scheduler that starts it: its calls stay in one silo
public sealed class MigrationGrain(
    [PersistentState("migration", StorageNames.Store)] IPersistentState<MigrationState> state,
    IOptions<MigrationGrainOptions> options,
    FleetClock clock,
    IFaultInjection faults,
    ILogger<MigrationGrain> log) : Grain, IMigrationGrain, IRemindable
{
    private const string Reminder = "watchdog";
    private IGrainTimer? _watchdog;
    /// <summary>The end is being recorded: Get still says Switching until the guest record and the scheduler know.</summary>
    private bool _ending;
    private bool _stepping;
    private bool _stepAgain;
    private EscalationState? _escalation;
    /// <summary>Cancelled by the escalation schedule or its deadline: the guest dirties memory faster than it was thought to.</summary>
    private bool _notConverging;
    private DateTime? _sourceSilentSince;
    private DateTime? _destinationSilentSince;
    private string Id => this.GetPrimaryKeyString();
    private MigrationState S => state.State;
    private MigrationGrainOptions O => options.Value;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Woken after a restart (reminder, a host's report, or a host adopting a QEMU): decide from facts at the first look.
        if (S.Order is not null && !S.IsFinal) StartWatchdog();
        // Ended, but its silo died before the guest record, the event log and the scheduler heard of it.
        if (S.Order is not null && S.IsFinal && S.AnnouncePending) StartAnnouncing();
        return Task.CompletedTask;
    }

    public async Task<MigrationView> Start(MigrationOrder order, Guest guest)
    {
        if (S.Order is not null)
            return S.Order.Guest == order.Guest && S.Order.From == order.From && S.Order.To == order.To
                ? View() : throw ClusterException.Conflict($"migration {Id} already exists for {S.Order.Guest}");
        if (order.From == order.To) throw ClusterException.Invalid($"guest '{order.Guest}' already runs on {order.To}", "to");
        S.Order = order with { Id = Id };
        S.Guest = guest;
        S.CreatedAt = clock.Now;
        // The core computed the time limit from the policy (completionTimeoutPerGiB over memory and copied disks).
        S.Deadline = S.CreatedAt + TimeSpan.FromSeconds(order.DeadlineSeconds);
        S.Status = MigrationStatus.Created;
        await state.WriteStateAsync();
        await MigrationIndex.For(GrainFactory, Id).Set(Id, true);
        await this.RegisterOrUpdateReminder(Reminder, O.ReminderPeriod, O.ReminderPeriod);
        await Record("migration-started", $"migration {Id}: {order.Guest} {order.From} → {order.To}", order.Reasons);

        var guestGrain = GrainFactory.GetGrain<IGuestGrain>(order.Guest);
        try
        {
            if (await guestGrain.Get() is null) await guestGrain.Define(guest);
            // The destination must start with the guest as it is now (a device hot-plugged a moment ago, or QEMU
            // refuses the incoming state), not as the scheduler's last report had it: ask the source.
            try
            {
                if ((await Host(order.From).Refresh().WaitAsync(O.HostTimeout)).Guests.FirstOrDefault(g => g.Name == order.Guest) is { } now)
                    S.Guest = guest = now with { Usage = guest.Usage };
            }
            catch (Exception e) { log.LogInformation("spec of {Guest} not re-read from {Host}: {Error}", order.Guest, order.From, Describe(e)); }
            S.Endpoint = await Host(order.To).PrepareIncoming(guest, S.Order, Id);
            await Become(MigrationStatus.Reserved);
            await faults.At(FaultPoints.DestinationPrepared, order.Guest);
            await guestGrain.Locate(order.From, GuestStatus.Migrating, Id);
            await Become(MigrationStatus.Migrating);
            await Host(order.From).MigrateOut(order.Guest, S.Endpoint, S.Order, Id);
        }
        catch (Exception e) when (!S.IsFinal && S.Status is MigrationStatus.Created or MigrationStatus.Reserved or MigrationStatus.Migrating)
        {
            // Nothing was sent, or the source refused to send: the source owns the guest; undo what was prepared.
            S.Reason = Describe(e);
            await Become(MigrationStatus.Failing);
        }
        StartWatchdog();
        await Step();
        return View();
    }

    public Task<MigrationView?> Get() =>
        Task.FromResult(S.Order is null ? null : _ending && S.Status == MigrationStatus.Completed ? View() with { Status = MigrationStatus.Switching } : View());

    public async Task<MigrationView> Cancel()
    {
        if (S.Order is null) throw ClusterException.NotFound($"no migration {Id}");
        if (S.IsFinal || S.Status == MigrationStatus.Failing) return View();
        if (S.Status is MigrationStatus.Switching or MigrationStatus.PostCopy)
            throw ClusterException.Conflict($"migration {Id} is switching over and can no longer be cancelled");
        S.CancelRequested = true;
        S.Reason ??= "cancelled";
        await state.WriteStateAsync();
        // The source stops sending; the next look finds it running the guest and unwinds the destination.
        try { await Host(S.Order.From).CancelOutgoing(S.Order.Guest).WaitAsync(O.HostTimeout); }
        catch (Exception e) { log.LogWarning("cancel of {Migration} could not reach the source: {Error}", Id, Describe(e)); }
        await Step();
        return View();
    }

    public async Task Report(MigrationProgress progress)
    {
        S.Progress = progress; // kept in memory; written with the next state change
        if (S.Status != MigrationStatus.Migrating || progress.CopyingDisks) return; // the escalation schedule is for memory
        var settings = S.Order!.Settings;
        _escalation ??= EscalationState.Start(settings);
        var decision = MigrationEscalation.Next(settings, _escalation, (clock.Now - S.CreatedAt).TotalSeconds, progress.RemainingMiB, O.EscalationWindow.TotalSeconds);
        _escalation = decision.State;
        if (decision.Step == EscalationStep.None) return;
        await Record("migration-escalated", $"migration {Id}: {decision.Reason}", [decision.Reason]);
        try
        {
            switch (decision.Step)
            {
                case EscalationStep.RaiseDowntime:
                    await Host(S.Order.From).AdjustOutgoing(S.Order.Guest, new MigrationAdjustment(decision.State.DowntimeMs, false));
                    break;
                case EscalationStep.StartPostCopy:
                    await StartPostCopy();
                    break;
                case EscalationStep.Cancel:
                    S.Reason = decision.Reason;
                    S.CancelRequested = true;
                    _notConverging = true;
                    await state.WriteStateAsync();
                    await Host(S.Order.From).CancelOutgoing(S.Order.Guest);
                    break;
            }
        }
        catch (Exception e) { log.LogWarning("escalation step {Step} of {Migration} not applied: {Error}", decision.Step, Id, Describe(e)); }
    }

    /// <summary>
    /// Post-copy is a decision: from the switch the destination owns the guest. It is written first, then the
    /// destination may run (QEMU's cont while receiving), then the source switches.
    /// </summary>
    private async Task StartPostCopy()
    {
        var o = S.Order!;
        await Become(MigrationStatus.PostCopy);
        await Host(o.To).AllowIncomingToRun(o.Guest, Id);
        await Host(o.From).AdjustOutgoing(o.Guest, new MigrationAdjustment(null, true));
    }

    public async Task TransferEnded(string? failure)
    {
        if (S.Order is null || S.IsFinal) return; // already ended (idempotent)
        log.LogDebug("migration {Migration}: the source says its transfer ended ({Failure})", Id, failure ?? "completed");
        await Step(); // a hint: the decision comes from both hosts' facts
    }

    public Task<AdoptionVerdict> Adopted(string host, bool isSource)
    {
        // No record of it (never started here, or state lost): the source keeps its guest, an incoming copy goes.
        if (S.Order is null) return Task.FromResult(isSource ? AdoptionVerdict.Resume : AdoptionVerdict.Discard);
        var verdict = MigrationProtocol.Adopt(S.Decided, isSource);
        log.LogInformation("migration {Migration}: {Host} adopted its {Side} copy of {Guest} ({Status}): {Verdict}",
            Id, host, isSource ? "source" : "incoming", S.Order.Guest, S.Status, verdict);
        if (!S.IsFinal) StartWatchdog();
        return Task.FromResult(verdict);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (S.Order is null) await UnregisterReminder();
        else if (S.IsFinal && !S.AnnouncePending)
        {
            if (clock.Now >= (S.EndedAt ?? S.CreatedAt) + O.Retention) await Expire();
            else await KeepUntilExpiry();
        }
        else if (S.IsFinal) StartAnnouncing();
        else StartWatchdog();
    }

    /// <summary>A finished record is kept for <see cref="MigrationGrainOptions.Retention"/>; its reminder then wakes it to go.</summary>
    private async Task KeepUntilExpiry()
    {
        var left = (S.EndedAt ?? S.CreatedAt) + O.Retention - clock.Now;
        var due = left < O.ReminderPeriod ? O.ReminderPeriod : left;
        try { await this.RegisterOrUpdateReminder(Reminder, due, O.Retention < O.ReminderPeriod ? O.ReminderPeriod : O.Retention); }
        catch (Exception e) { log.LogWarning("expiry of {Migration} not scheduled: {Error}", Id, Describe(e)); }
    }

    /// <summary>The record's time is up: out of storage, then out of the index (an id left there reads as not found).</summary>
    private async Task Expire()
    {
        await state.ClearStateAsync();
        state.State = new MigrationState();
        await MigrationIndex.For(GrainFactory, Id).Set(Id, false);
        await UnregisterReminder();
        log.LogInformation("migration record {Migration} expired", Id);
        DeactivateOnIdle();
    }

    /// <summary>Looks at both hosts and moves on as far as the facts allow. One at a time; a call meanwhile looks again.</summary>
    private async Task Step()
    {
        if (_stepping) { _stepAgain = true; return; }
        _stepping = true;
        try
        {
            do
            {
                _stepAgain = false;
                var before = S.Status;
                if (S.Order is null || S.IsFinal) return;
                switch (S.Status)
                {
                    case MigrationStatus.Created or MigrationStatus.Reserved:
                        // Start's own turn died with its silo: nothing was sent.
                        S.Reason ??= "interrupted before the transfer started (silo restart)";
                        await Become(MigrationStatus.Failing);
                        break;
                    case MigrationStatus.Migrating: await DecideMigrating(); break;
                    case MigrationStatus.PostCopy: await DecidePostCopy(); break;
                    case MigrationStatus.Switching: await Switch(); break;
                    case MigrationStatus.Failing: await Unwind(); break;
                }
                if (S.Status != before && !S.IsFinal) _stepAgain = true;
            } while (_stepAgain);
        }
        catch (Exception e) { log.LogWarning("migration {Migration} ({Status}): {Error}; looking again shortly", Id, S.Status, Describe(e)); }
        finally { _stepping = false; }
    }

    private async Task DecideMigrating()
    {
        var (source, destination) = await Facts();
        var d = MigrationProtocol.Decide(source, destination, clock.Now > S.Deadline, Silent(_sourceSilentSince), Silent(_destinationSilentSince), O.HandOverGrace.TotalSeconds);
        switch (d.Verdict)
        {
            case Verdict.Complete:
                log.LogInformation("migration {Migration}: complete ({Reason})", Id, d.Reason);
                await Become(MigrationStatus.Switching);
                await faults.At(FaultPoints.GrainSwitching, S.Order!.Guest);
                break;
            case Verdict.Fail:
                S.Reason ??= d.Reason + await WhyGone(destination);
                await Become(MigrationStatus.Failing);
                break;
            case Verdict.CancelSource:
                if (S.Reason is null) { S.Reason = "did not complete before its deadline"; _notConverging = true; }
                try { await Host(S.Order!.From).CancelOutgoing(S.Order.Guest).WaitAsync(O.HostTimeout); }
                catch (Exception e) { log.LogInformation("cancel of {Migration} not delivered: {Error}", Id, Describe(e)); }
                break;
            case Verdict.Lost:
                await Lose(d.Reason);
                break;
        }
    }

    private async Task DecidePostCopy()
    {
        var (source, destination) = await Facts();
        if (destination == DestinationFact.Gone) { await Lose("the destination ran the guest in post-copy and its QEMU is gone"); return; }
        // The destination owns the guest: once the source has sent everything (postmigrate, or its QEMU gone), release it.
        if (destination is DestinationFact.Running or DestinationFact.Received && source is SourceFact.HandedOver or SourceFact.Gone)
            await Become(MigrationStatus.Switching);
    }

    private async Task Switch()
    {
        var o = S.Order!;
        var (source, destination) = await Facts();
        var d = MigrationProtocol.DecideSwitching(source, destination, S.ResumeAttempted);
        if (!S.DestinationSettled && (d.Verdict == Verdict.Complete || d.Verdict == Verdict.Wait && destination == DestinationFact.Received))
        {
            // Resume the destination (or, after post-copy, make its running copy an ordinary guest of that host). The
            // guest's usage history goes with it (the source's, or the snapshot's if the source cannot be asked).
            var history = S.Guest!.Usage;
            try { history = await Host(o.From).UsageOf(o.Guest).WaitAsync(O.HostTimeout); }
            catch (Exception e) { log.LogInformation("usage history of {Guest} not read from {Host}: {Error}", o.Guest, o.From, Describe(e)); }
            // Written first: once a resume may have reached the destination, its copy may have run, and the source's
            // (paused at the hand-over) must never resume after it.
            if (!S.ResumeAttempted) { S.ResumeAttempted = true; await state.WriteStateAsync(); }
            await Host(o.To).CommitIncoming(o.Guest, Id, history).WaitAsync(O.HostTimeout);
            S.DestinationSettled = true;
            await state.WriteStateAsync();
            d = new Decision(Verdict.Complete, "the destination runs the guest");
        }
        switch (d.Verdict)
        {
            case Verdict.Complete:
                // From here the destination runs the guest; the source copy is paused and only needs destroying. A
                // silent source destroys it when it is back (it asks this grain: complete → discard).
                if (source is not (SourceFact.Unreachable or SourceFact.Gone))
                {
                    try { await Host(o.From).ReleaseOutgoing(o.Guest, Id).WaitAsync(O.HostTimeout); }
                    catch (Exception e) { log.LogWarning("source of {Migration} could not release its paused copy: {Error}", Id, Describe(e)); return; }
                }
                await End(MigrationStatus.Completed, null, o.To);
                break;
            case Verdict.Fail:
                S.Reason = d.Reason;
                await Become(MigrationStatus.Failing);
                break;
            case Verdict.Lost:
                await Lose(d.Reason);
                break;
        }
    }

    /// <summary>Failing: discard the incoming copy (it never ran), resume the source. A silent host does its part when back.</summary>
    private async Task Unwind()
    {
        var o = S.Order!;
        var (source, destination) = await Facts();
        if (destination == DestinationFact.Running)
        {
            // Only a decided switch resumes the destination; if it runs, it owns the guest.
            log.LogWarning("migration {Migration}: the destination runs the guest although the migration was failing; it owns it now", Id);
            S.Reason = null;
            await Become(MigrationStatus.Switching);
            return;
        }
        // Also when its QEMU is gone: what it left (images made for the copy) goes too. A silent destination does this
        // when it is back (it asks this grain: failed → discard).
        if (destination is DestinationFact.Receiving or DestinationFact.Received or DestinationFact.Gone)
            await Host(o.To).AbortIncoming(o.Guest, Id).WaitAsync(O.HostTimeout);
        switch (source)
        {
            case SourceFact.Gone:
                await Lose("the migration failed and the source's QEMU is gone");
                return;
            case SourceFact.Sending:
                await Host(o.From).CancelOutgoing(o.Guest).WaitAsync(O.HostTimeout); // look again when it has stopped
                return;
            case SourceFact.HandedOver or SourceFact.Paused or SourceFact.Running:
                await Host(o.From).ResumeOutgoing(o.Guest, Id).WaitAsync(O.HostTimeout);
                break;
        }
        // A silent source resumes its copy when it is back (it asks this grain: failed → resume).
        await End(S.CancelRequested ? MigrationStatus.Cancelled : MigrationStatus.Failed, S.Reason ?? "failed", o.From);
    }

    /// <summary>The destination's own words when its copy is gone (its QEMU's exit), for the reason and the event log.</summary>
    private async Task<string> WhyGone(DestinationFact destination)
    {
        if (destination != DestinationFact.Gone) return "";
        try { return await Host(S.Order!.To).ExitOf(S.Order.Guest).WaitAsync(O.HostTimeout) is { } exit ? $" ({exit.Why})" : ""; }
        catch (Exception) { return ""; }
    }

    /// <summary>What both hosts say now; a host that does not answer in time is unreachable.</summary>
    private async Task<(SourceFact Source, DestinationFact Destination)> Facts()
    {
        var o = S.Order!;
        var source = SourceFact.Unreachable;
        var destination = DestinationFact.Unreachable;
        try { source = await Host(o.From).OutgoingState(o.Guest).WaitAsync(O.HostTimeout); }
        catch (Exception e) { log.LogDebug("source of {Migration} did not answer: {Error}", Id, Describe(e)); }
        try { destination = await Host(o.To).IncomingState(o.Guest).WaitAsync(O.HostTimeout); }
        catch (Exception e) { log.LogDebug("destination of {Migration} did not answer: {Error}", Id, Describe(e)); }
        _sourceSilentSince = source == SourceFact.Unreachable ? _sourceSilentSince ?? DateTime.UtcNow : null;
        _destinationSilentSince = destination == DestinationFact.Unreachable ? _destinationSilentSince ?? DateTime.UtcNow : null;
        return (source, destination);
    }

    private static double Silent(DateTime? since) => since is { } s ? (DateTime.UtcNow - s).TotalSeconds : 0;

    /// <summary>A decision: written before anything acts on it; if it cannot be written, it was not taken.</summary>
    private async Task Become(MigrationStatus status)
    {
        var before = S.Status;
        S.Status = status;
        try { await state.WriteStateAsync(); }
        catch
        {
            S.Status = before;
            throw;
        }
        log.LogInformation("migration {Migration}: {Before} → {Status}{Reason}", Id, before, status, status == MigrationStatus.Failing ? $" ({S.Reason})" : "");
        // It did not converge: what the migration measured is what the planner should expect of this guest next time.
        if (status == MigrationStatus.Failing && _notConverging && S.Progress is { DirtyMiBps: > 0 } progress)
        {
            try { await Host(S.Order!.From).GuestDirtied(S.Order.Guest, progress.DirtyMiBps).WaitAsync(O.HostTimeout); }
            catch (Exception e) { log.LogInformation("dirty rate of {Guest} not kept: {Error}", S.Order!.Guest, Describe(e)); }
        }
    }

    /// <summary>No copy of the guest is left: the record, the event log and the scheduler say so.</summary>
    private async Task Lose(string reason)
    {
        var o = S.Order!;
        log.LogError("migration {Migration}: guest {Guest} lost: {Reason}", Id, o.Guest, reason);
        await Record("guest-lost", $"guest {o.Guest} lost during migration {Id} {o.From} → {o.To}: {reason}", [reason]);
        await End(MigrationStatus.Failed, "guest lost: " + reason, null, GuestStatus.Lost);
    }

    /// <summary>
    /// The end: written first (with where the guest runs now), then told to the guest record, the event log and the
    /// scheduler. A silo dying between the two tells them when the grain wakes again (at least once).
    /// </summary>
    private async Task End(MigrationStatus status, string? reason, string? host, GuestStatus guestStatus = GuestStatus.Running)
    {
        _ending = true;
        try
        {
            S.Status = status;
            S.Reason = reason;
            S.EndedAt = clock.Now;
            S.EndHost = host;
            S.EndGuestStatus = guestStatus;
            S.AnnouncePending = true;
            await state.WriteStateAsync();
            Telemetry.KvmMeters.Migrations.Add(1, new KeyValuePair<string, object?>("outcome", status.ToString().ToLowerInvariant()));
            _watchdog?.Dispose();
            _watchdog = null;
            if (status == MigrationStatus.Completed) await faults.At(FaultPoints.Completed, S.Order!.Guest);
            try { await Announce(); }
            catch (Exception e) { log.LogWarning("end of {Migration} not announced yet: {Error}", Id, Describe(e)); StartAnnouncing(); }
        }
        finally { _ending = false; } // a client that sees Completed finds the guest on its new host everywhere
    }

    private async Task Announce()
    {
        var o = S.Order!;
        await GrainFactory.GetGrain<IGuestGrain>(o.Guest).Locate(S.EndHost, S.EndGuestStatus, null);
        var text = S.Status == MigrationStatus.Completed
            ? $"migration {Id}: {o.Guest} now runs on {o.To}"
            : $"migration {Id}: {o.Guest} stays on {o.From} ({S.Status.ToString().ToLowerInvariant()}: {S.Reason})";
        if (S.EndHost is null) text = $"migration {Id}: {o.Guest} runs nowhere ({S.Reason})";
        await Record("migration-" + S.Status.ToString().ToLowerInvariant(), text, S.Reason is null ? [] : [S.Reason]);
        try { await GrainFactory.GetGrain<ISchedulerGrain>(Cluster.Key).MigrationEnded(View()); }
        catch (Exception e) { log.LogInformation("scheduler not told about {Migration}: {Error} (it asks its migrations now and then)", Id, Describe(e)); }
        S.AnnouncePending = false;
        await state.WriteStateAsync();
        _announcer?.Dispose();
        _announcer = null;
        await KeepUntilExpiry();
    }

    private IGrainTimer? _announcer;

    private void StartAnnouncing() => _announcer ??= this.RegisterGrainTimer(async () =>
    {
        try { if (S.AnnouncePending) await Announce(); }
        catch (Exception e) { log.LogInformation("end of {Migration} not announced yet: {Error}", Id, Describe(e)); }
    }, new GrainTimerCreationOptions(O.WatchdogInterval, O.WatchdogInterval) { KeepAlive = true });

    private void StartWatchdog() => _watchdog ??= this.RegisterGrainTimer(Step,
        new GrainTimerCreationOptions(O.WatchdogInterval, O.WatchdogInterval) { KeepAlive = true });

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
