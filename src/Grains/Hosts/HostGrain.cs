using System.Collections.Immutable;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Events;
using KvmCluster.Grains.Placement;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KvmCluster.Grains.Hosts;

/// <summary>
/// One hypervisor. Pinned to the silo on that hypervisor (it drives the local QEMU processes through
/// <see cref="IHypervisor"/>) and pushes compact reports to the scheduler — push, not poll. Every sample interval it
/// samples its guests' usage and keeps each guest's history for the window the active policy reads, in its persistent
/// state; reports carry that history, so live snapshots hold what the simulator's do.
/// Outgoing transfers run in the background and report back to their migration grain, so a long migration never
/// holds a grain call open.
/// </summary>
[HypervisorPlacement]
public sealed class HostGrain(
    IHypervisors hypervisors,
    [PersistentState("host", StorageNames.Store)] IPersistentState<HostState> state,
    ILocalSiloDetails silo,
    IOptions<HostGrainOptions> options,
    FleetClock clock,
    IFaultInjection faults,
    ILogger<HostGrain> log) : Grain, IHostGrain
{
    private readonly Dictionary<string, CancellationTokenSource> _outgoing = new(StringComparer.Ordinal);
    // Guests whose transfer task is running now (it runs off the grain's turn, hence concurrent).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _sending = new(StringComparer.Ordinal);
    private HashSet<string> _seen = new(StringComparer.Ordinal);
    // Guests this host let go on purpose (stopped, migrated away): their absence is not a loss.
    private readonly HashSet<string> _letGo = new(StringComparer.Ordinal);
    private IHypervisor? _hypervisor;
    private Host? _facts;
    private string? _problem;

    private IHypervisor hypervisor => _hypervisor ??= hypervisors.For(this.GetPrimaryKeyString());
    private HostGrainOptions O => options.Value;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(async () => { try { await Refresh(); } catch (Exception e) { log.LogWarning(e, "host report failed"); } },
            new GrainTimerCreationOptions(TimeSpan.Zero, O.ReportInterval) { KeepAlive = true });
        if (O.SampleInterval > TimeSpan.Zero)
            this.RegisterGrainTimer(async () => { try { await Sample(); } catch (Exception e) { log.LogWarning(e, "usage sample failed"); } },
                new GrainTimerCreationOptions(O.SampleInterval, O.SampleInterval) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Its timers stop with it: say why (the silo's keeper wakes it again within a report interval).
        if (reason.ReasonCode is not (DeactivationReasonCode.ShuttingDown or DeactivationReasonCode.ApplicationRequested))
            log.LogWarning("host grain {Host} deactivated: {Reason}", this.GetPrimaryKeyString(), reason);
        return Task.CompletedTask;
    }

    public async Task<HostReport> Refresh()
    {
        var report = await Observe();
        if (!_adoptionsSettled)
        {
            await SettleAdoptions(report);
            report = await Observe(); // what settling changed (a discarded copy is gone), not what was there before
        }
        await GrainFactory.GetGrain<ISchedulerGrain>(Cluster.Key).ReportHost(report);
        return report;
    }

    private bool _adoptionsSettled;

    /// <summary>
    /// Once, when the silo started: the QEMUs a previous silo left running are this host's guests (recorded as adopted),
    /// and those found mid-migration are settled with their migration grain — kept, resumed or discarded as it decided.
    /// Until then a paused copy stays paused: a copy that may be the only one is never killed, and none runs twice.
    /// </summary>
    private async Task SettleAdoptions(HostReport report)
    {
        var where = this.GetPrimaryKeyString();
        var migrations = _problem is null ? hypervisor.AdoptedMigrations() : [];
        var settled = true;
        foreach (var m in migrations)
        {
            try
            {
                var verdict = await GrainFactory.GetGrain<IMigrationGrain>(m.MigrationId).Adopted(where, m.IsSource);
                await Settle(m, verdict);
            }
            catch (ClusterException e) when (e.Kind == ProblemKind.NotFound)
            {
                // The copy went meanwhile (its QEMU died, or its migration settled it): nothing left to settle here.
                log.LogInformation("copy of {Guest} (migration {Migration}) is gone: {Error}", m.Guest, m.MigrationId, e.Message);
            }
            catch (Exception e)
            {
                settled = false; // asked again at the next report
                log.LogWarning("copy of {Guest} (migration {Migration}) not settled yet: {Error}", m.Guest, m.MigrationId, e.GetBaseException().Message);
            }
        }
        if (!settled) return;
        var adopted = report.Guests.Select(g => g.Name).Concat(migrations.Select(m => m.Guest)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (adopted.Count > 0)
            await GrainFactory.Record(Events.Events.New(clock.Now, "guests-adopted", where,
                $"host {where} started with {adopted.Count} guest(s) a previous silo left running: {string.Join(", ", adopted)}", adopted));
        _adoptionsSettled = true;
    }

    private async Task Settle(AdoptedMigration m, AdoptionVerdict verdict)
    {
        log.LogInformation("adopted {Side} copy of {Guest} (migration {Migration}): {Verdict}", m.IsSource ? "source" : "incoming", m.Guest, m.MigrationId, verdict);
        switch (verdict, m.IsSource)
        {
            case (AdoptionVerdict.Resume, true): await hypervisor.ResumeOutgoingAsync(m.Guest, CancellationToken.None); break;
            case (AdoptionVerdict.Resume, false): await hypervisor.CommitIncomingAsync(m.Guest, CancellationToken.None); break;
            case (AdoptionVerdict.Discard, true): _letGo.Add(m.Guest); await hypervisor.ReleaseOutgoingAsync(m.Guest, CancellationToken.None); break;
            case (AdoptionVerdict.Discard, false): await hypervisor.AbortIncomingAsync(m.Guest, CancellationToken.None); break;
            case (AdoptionVerdict.Keep, true) when m.Order is { } order && await hypervisor.OutgoingStateAsync(m.Guest, CancellationToken.None) == SourceFact.Sending:
                Send(m.Guest, order, m.MigrationId, (guest, progress, ct) => hypervisor.WatchOutgoingAsync(guest, order, progress, ct));
                break;
        }
    }

    /// <summary>
    /// One usage sample of every guest (the driver measures CPU since the last sample, resident memory and dirty rate),
    /// appended to each guest's history and kept for as many samples as the active policy reads; then a report.
    /// </summary>
    public async Task<HostReport> Sample()
    {
        await Discover();
        var keep = await GrainFactory.GetGrain<IPolicyGrain>(Cluster.Key).UsageWindow(O.SampleSeconds);
        var samples = _problem is null ? await hypervisor.SampleAsync(CancellationToken.None) : new Dictionary<string, UsageSample>();
        var usage = new Dictionary<string, UsageHistory>(StringComparer.Ordinal);
        foreach (var (guest, sample) in samples.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            usage[guest] = state.State.Usage.GetValueOrDefault(guest, UsageHistory.Empty).Append(sample, keep);
        // A guest paused at a migration's switch-over is not sampled, but its history must reach its new host.
        foreach (var (guest, history) in state.State.Usage)
            if (_outgoing.ContainsKey(guest) && !usage.ContainsKey(guest)) usage[guest] = history;
        state.State.Usage = usage;
        var cpu = state.State.CpuHistoryMhz;
        cpu.Add(samples.Values.Sum(s => s.CpuMhz));
        if (cpu.Count > keep) cpu.RemoveRange(0, cpu.Count - keep);
        state.State.SampledAt = clock.Now;
        await state.WriteStateAsync();
        return await Refresh();
    }

    private async Task<HostReport> Observe()
    {
        await Discover();
        var inventory = _problem is null ? await hypervisor.InventoryAsync(CancellationToken.None) : [];
        await NoticeLostGuests(inventory);
        var guests = inventory.Select(g => g with { Usage = state.State.Usage.GetValueOrDefault(g.Name, UsageHistory.Empty) }).ToList();
        var host = _facts! with { Name = this.GetPrimaryKeyString(), Maintenance = state.State.Maintenance, Labels = Labels(_facts!.Labels) };
        return new HostReport(host, guests, hypervisor.Kind, _problem, clock.Now, silo.SiloAddress.ToParsableString())
        {
            CpuHistoryMhz = [.. state.State.CpuHistoryMhz],
            SampleSeconds = O.SampleSeconds,
            SampledAt = state.State.SampledAt,
            InMigration = [.. _outgoing.Keys.Concat(_adoptionsSettled || _problem is not null ? [] : hypervisor.AdoptedMigrations().Select(m => m.Guest))
                .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
        };
    }

    /// <summary>The driver's labels, then the settings', then what operators set or removed (theirs win).</summary>
    private ImmutableSortedDictionary<string, string> Labels(ImmutableSortedDictionary<string, string> fromDriver)
    {
        var labels = fromDriver.ToBuilder();
        foreach (var (k, v) in O.Labels) labels[k] = v;
        foreach (var k in state.State.RemovedLabels) labels.Remove(k);
        foreach (var (k, v) in state.State.Labels) labels[k] = v;
        return labels.ToImmutable();
    }

    public async Task<HostReport> SetLabels(LabelChange change)
    {
        foreach (var (field, message) in change.Problems()) throw ClusterException.Invalid(message, field);
        foreach (var (k, v) in change.Set ?? new Dictionary<string, string>())
        {
            state.State.Labels[k] = v;
            state.State.RemovedLabels.Remove(k);
        }
        foreach (var k in change.Remove ?? [])
        {
            state.State.Labels.Remove(k);
            if (!state.State.RemovedLabels.Contains(k)) state.State.RemovedLabels.Add(k);
        }
        await state.WriteStateAsync();
        return await Refresh();
    }

    public Task<UsageHistory> UsageOf(string guest) => Task.FromResult(state.State.Usage.GetValueOrDefault(guest, UsageHistory.Empty));

    public async Task GuestDirtied(string guest, double dirtyMiBps)
    {
        // Kept even before the guest's first sample: the next plan must not price it as converging again.
        state.State.Usage[guest] = state.State.Usage.GetValueOrDefault(guest, UsageHistory.Empty).WithObservedDirtyRate(dirtyMiBps);
        await state.WriteStateAsync();
        await Refresh();
    }

    /// <summary>
    /// Supervision: a guest that leaves the inventory without being stopped or migrated away died (its QEMU exited).
    /// Its record says so and the event log has it; the scheduler sees it gone with this report.
    /// </summary>
    private async Task NoticeLostGuests(IReadOnlyList<Guest> guests)
    {
        var now = guests.Select(g => g.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var lost in _seen.Where(n => !now.Contains(n) && !_letGo.Contains(n) && !_outgoing.ContainsKey(n)).ToList())
        {
            var where = this.GetPrimaryKeyString();
            var exit = hypervisor.ExitOf(lost) ?? new GuestExit(GuestExitKind.Died, "its process exited");
            // A guest that powered itself off or panicked is shut off or crashed here (its local disks stay here);
            // one whose QEMU died is lost.
            if (exit.Kind == GuestExitKind.ShutDown) log.LogInformation("guest {Guest} on {Host}: {Why}", lost, where, exit.Why);
            else log.LogWarning("guest {Guest} is gone from {Host} without being stopped: {Why}", lost, where, exit.Why);
            var said = exit.Kind switch
            {
                GuestExitKind.ShutDown => $"guest {lost} shut off on {where}: {exit.Why}",
                GuestExitKind.Crashed => $"guest {lost} crashed on {where}: {exit.Why}",
                _ => $"guest {lost} stopped running on {where} ({exit.Why})",
            };
            await GrainFactory.Record(Events.Events.New(clock.Now, exit.EventKind, lost, said, [exit.Why]));
            try { await GrainFactory.GetGrain<IGuestGrain>(lost).Locate(exit.Kind == GuestExitKind.Died ? null : where, exit.Status, null); }
            catch (Exception e) { log.LogWarning(e, "record of guest {Guest} not updated", lost); }
        }
        _letGo.IntersectWith(now);
        _seen = now;
    }

    public Task<string> Silo() => Task.FromResult(silo.SiloAddress.ToParsableString());

    public async Task<Guest> Launch(Guest guest)
    {
        await EnsureUsable();
        var launched = await hypervisor.LaunchAsync(guest with { Host = this.GetPrimaryKeyString(), Usage = UsageHistory.Empty }, CancellationToken.None);
        // Supervised from now on: if it ends before the next inventory, that inventory still notices.
        _seen.Add(guest.Name);
        _letGo.Remove(guest.Name);
        return launched;
    }

    public async Task Stop(string guest)
    {
        _letGo.Add(guest);
        await hypervisor.StopAsync(guest, CancellationToken.None);
        // Stopped on purpose: its record says so (reconciliation would otherwise call it lost), and keeps this host,
        // where its local disks are.
        try { await GrainFactory.GetGrain<IGuestGrain>(guest).Locate(this.GetPrimaryKeyString(), GuestStatus.ShutOff, null); }
        catch (ClusterException e) when (e.Kind == ProblemKind.NotFound) { } // never recorded (started by hand)
    }

    public async Task RemoveDisks(Guest guest)
    {
        if (_seen.Contains(guest.Name)) throw ClusterException.Conflict($"guest '{guest.Name}' runs on {this.GetPrimaryKeyString()}: its disks stay");
        await hypervisor.RemoveDisksAsync(guest, CancellationToken.None);
    }

    // One console writer per guest: its session and until when its lease lives (renewed by every read).
    private readonly Dictionary<string, (string Session, DateTime Until)> _consoleWriters = new(StringComparer.Ordinal);
    private static readonly TimeSpan ConsoleLease = TimeSpan.FromSeconds(15);

    public async Task<long> ConsoleAttach(string guest, string session, string actor)
    {
        if (_consoleWriters.TryGetValue(guest, out var held) && held.Session != session && held.Until > DateTime.UtcNow)
            throw ClusterException.Conflict($"another console is attached to guest '{guest}'; one at a time (it lets go within {ConsoleLease.TotalSeconds:0} s of leaving)");
        var start = (await hypervisor.ConsoleReadAsync(guest, 0, CancellationToken.None)).Next;
        _consoleWriters[guest] = (session, DateTime.UtcNow + ConsoleLease);
        await GrainFactory.Record(Events.Events.New(clock.Now, "console-attached", guest, $"console of {guest} on {this.GetPrimaryKeyString()} attached by {actor}", [$"actor {actor}"]));
        // The last couple of KiB: the session starts with the screen as it is.
        return Math.Max(0, start - 2048);
    }

    public async Task<ConsoleOutput> ConsoleRead(string guest, string session, long from)
    {
        Lease(guest, session);
        return await hypervisor.ConsoleReadAsync(guest, from, CancellationToken.None);
    }

    public async Task ConsoleWrite(string guest, string session, byte[] data)
    {
        Lease(guest, session);
        if (data.Length > 4096) throw ClusterException.Invalid("at most 4 KiB per write", "data");
        await hypervisor.ConsoleWriteAsync(guest, data, CancellationToken.None);
    }

    public Task ConsoleDetach(string guest, string session)
    {
        if (_consoleWriters.TryGetValue(guest, out var held) && held.Session == session) _consoleWriters.Remove(guest);
        return Task.CompletedTask;
    }

    public Task<string?> SerialLog(string guest, int maxBytes) => hypervisor.SerialLogAsync(guest, Math.Clamp(maxBytes, 1, 4 * 1024 * 1024), CancellationToken.None);

    private void Lease(string guest, string session)
    {
        if (!_consoleWriters.TryGetValue(guest, out var held) || held.Session != session)
            throw ClusterException.Conflict($"this console session does not hold guest '{guest}''s console (attach first)");
        _consoleWriters[guest] = (session, DateTime.UtcNow + ConsoleLease);
    }

    public async Task<string> Monitor(string guest, string command, string actor)
    {
        if (MonitorCommand.Problem(command) is { } problem) throw ClusterException.Invalid(problem, "command");
        if (_outgoing.ContainsKey(guest)) throw ClusterException.Conflict($"guest '{guest}' is migrating; try again when it has arrived");
        // On record before it runs: the monitor can do anything to the guest.
        await GrainFactory.Record(Events.Events.New(clock.Now, "guest-monitor", guest, $"monitor command on {guest} by {actor}: {command}", [command, $"actor {actor}"]));
        var output = await hypervisor.MonitorAsync(guest, command, CancellationToken.None);
        await Refresh(); // it may have changed the guest (stop, device_del)
        return output;
    }

    public async Task<GuestControlResult> Control(string guest, GuestControl control)
    {
        foreach (var (field, message) in control.Problems()) throw ClusterException.Invalid(message, field);
        if (_outgoing.ContainsKey(guest)) throw ClusterException.Conflict($"guest '{guest}' is migrating; try again when it has arrived");
        var result = await hypervisor.ControlAsync(guest, control, CancellationToken.None);
        // The spec changed (devices, balloon, paused): the scheduler hears it now, so a migration takes it along.
        if (control.Action is GuestAction.DeviceAdd or GuestAction.DeviceDel or GuestAction.Balloon or GuestAction.Stop or GuestAction.Cont) await Refresh();
        return result;
    }

    public async Task<string> PrepareIncoming(Guest guest, MigrationOrder order, string migration)
    {
        await EnsureUsable();
        return await hypervisor.PrepareIncomingAsync(guest with { Host = this.GetPrimaryKeyString(), Usage = UsageHistory.Empty }, order, CancellationToken.None);
    }

    public Task AdjustOutgoing(string guest, MigrationAdjustment adjustment)
    {
        if (!_outgoing.ContainsKey(guest)) throw ClusterException.NotFound($"guest '{guest}' is not migrating from this host");
        return hypervisor.AdjustMigrationAsync(guest, adjustment, CancellationToken.None);
    }

    public Task MigrateOut(string guest, string endpoint, MigrationOrder order, string migration)
    {
        if (_outgoing.ContainsKey(guest)) throw ClusterException.Conflict($"guest '{guest}' is already migrating");
        Send(guest, order, migration, (g, progress, ct) => hypervisor.MigrateAsync(g, endpoint, order, progress, ct));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Runs a transfer outside the grain's turn (it may take minutes, and progress and cancel calls must get in) and
    /// tells the migration grain when it ended — again and again if its silo is gone, until one answers: the grain
    /// decides from facts anyway, so this only saves it time.
    /// </summary>
    private void Send(string guest, MigrationOrder order, string migration, Func<string, Func<MigrationProgress, Task>, CancellationToken, Task> transfer)
    {
        var cts = new CancellationTokenSource();
        _outgoing[guest] = cts;
        _sending[guest] = true;
        var migrationGrain = GrainFactory.GetGrain<IMigrationGrain>(migration);
        _ = Task.Run(async () =>
        {
            string? failure = null;
            try
            {
                await transfer(guest, async p =>
                {
                    try { await migrationGrain.Report(p); }
                    catch (Exception e) { log.LogDebug("progress of {Migration} not reported: {Error}", migration, e.GetBaseException().Message); }
                }, cts.Token);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested) { failure = "cancelled"; }
            catch (Exception e)
            {
                failure = e.Message;
                log.LogWarning("migration {Migration}: sending {Guest} failed: {Error}", migration, guest, e.Message);
            }
            finally { _sending.TryRemove(guest, out _); }
            if (failure is null) await faults.At(FaultPoints.QemuCompleted, guest);
            var delay = TimeSpan.FromMilliseconds(200);
            for (var attempt = 1; ; attempt++)
            {
                try { await migrationGrain.TransferEnded(failure); return; }
                catch (Exception e) when (attempt < 20)
                {
                    log.LogInformation("could not tell migration {Migration} that its transfer ended (attempt {Attempt}): {Error}", migration, attempt, e.GetBaseException().Message);
                    await Task.Delay(delay);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
                }
                catch (Exception e) { log.LogWarning("migration {Migration} not told its transfer ended; it decides from the hosts' facts: {Error}", migration, e.GetBaseException().Message); return; }
            }
        });
    }

    public async Task CancelOutgoing(string guest)
    {
        if (_outgoing.TryGetValue(guest, out var cts)) cts.Cancel();
        // Nobody here follows it (its sender failed or died with a previous silo), yet QEMU may still send.
        else await hypervisor.CancelTransferAsync(guest, CancellationToken.None);
    }

    public Task<bool> IsSending(string guest) => Task.FromResult(_outgoing.ContainsKey(guest));

    /// <summary>Sending while this host's transfer runs (QEMU may not have begun yet: disks first); then what QEMU says.</summary>
    public async Task<SourceFact> OutgoingState(string guest) =>
        _sending.ContainsKey(guest) ? SourceFact.Sending : await hypervisor.OutgoingStateAsync(guest, CancellationToken.None);

    public Task<DestinationFact> IncomingState(string guest) => hypervisor.IncomingStateAsync(guest, CancellationToken.None);

    public Task<GuestExit?> ExitOf(string guest) => Task.FromResult(hypervisor.ExitOf(guest));

    public Task AllowIncomingToRun(string guest, string migration) => hypervisor.AllowIncomingToRunAsync(guest, CancellationToken.None);

    public async Task CommitIncoming(string guest, string migration, UsageHistory history)
    {
        await hypervisor.CommitIncomingAsync(guest, CancellationToken.None);
        // The guest's history moves with it: its time windows do not start again on the new host.
        state.State.Usage[guest] = history;
        await state.WriteStateAsync();
        await Refresh();
    }

    public Task AbortIncoming(string guest, string migration) => hypervisor.AbortIncomingAsync(guest, CancellationToken.None);

    public async Task ReleaseOutgoing(string guest, string migration)
    {
        Forget(guest);
        _letGo.Add(guest);
        await hypervisor.ReleaseOutgoingAsync(guest, CancellationToken.None);
        if (state.State.Usage.Remove(guest)) await state.WriteStateAsync();
        await Refresh();
    }

    public async Task ResumeOutgoing(string guest, string migration)
    {
        Forget(guest);
        await hypervisor.ResumeOutgoingAsync(guest, CancellationToken.None);
        await Refresh();
    }

    public async Task<HostReport> Tune(HostTuning tuning)
    {
        foreach (var (field, message) in tuning.Problems()) throw ClusterException.Invalid(message, field);
        await hypervisor.TuneAsync(tuning, CancellationToken.None);
        return await Refresh();
    }

    public Task<HostSettings> Settings() => Task.FromResult(new HostSettings(this.GetPrimaryKeyString(), state.State.Maintenance,
        new Dictionary<string, string>(state.State.Labels, StringComparer.Ordinal), [.. state.State.RemovedLabels]));

    public async Task SetMaintenance(bool on)
    {
        state.State.Maintenance = on;
        await state.WriteStateAsync();
        await Refresh();
    }

    private void Forget(string guest)
    {
        if (_outgoing.Remove(guest, out var cts)) cts.Dispose();
    }

    /// <summary>Facts are re-read on every report: free hugepages, power state and driver health change.</summary>
    private async Task Discover() => (_facts, _problem) = await hypervisor.DiscoverAsync(CancellationToken.None);

    private async Task EnsureUsable()
    {
        if (_facts is null) await Discover();
        if (_problem is not null) throw ClusterException.Unavailable($"host '{this.GetPrimaryKeyString()}' accepts no guests: {_problem}");
        if (_facts!.Power != PowerState.On) throw ClusterException.Unavailable($"host '{this.GetPrimaryKeyString()}' is {_facts.Power.ToString().ToLowerInvariant()}");
    }
}
