using System.Collections.Immutable;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Events;
using KvmCluster.Grains.Placement;
using KvmCluster.Grains.Ports;
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
    ILogger<HostGrain> log) : Grain, IHostGrain
{
    private readonly Dictionary<string, CancellationTokenSource> _outgoing = new(StringComparer.Ordinal);
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

    public async Task<HostReport> Refresh()
    {
        var report = await Observe();
        await GrainFactory.GetGrain<ISchedulerGrain>(Cluster.Key).ReportHost(report);
        return report;
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
            log.LogWarning("guest {Guest} is gone from {Host} without being stopped", lost, where);
            await GrainFactory.Record(Events.Events.New(clock.Now, "guest-lost", lost, $"guest {lost} stopped running on {where} (its process exited)"));
            try { await GrainFactory.GetGrain<IGuestGrain>(lost).Locate(null, GuestStatus.Failed, null); }
            catch (Exception e) { log.LogWarning(e, "record of lost guest {Guest} not updated", lost); }
        }
        _letGo.IntersectWith(now);
        _seen = now;
    }

    public Task<string> Silo() => Task.FromResult(silo.SiloAddress.ToParsableString());

    public async Task Launch(Guest guest)
    {
        await EnsureUsable();
        await hypervisor.LaunchAsync(guest with { Host = this.GetPrimaryKeyString(), Usage = UsageHistory.Empty }, CancellationToken.None);
    }

    public Task Stop(string guest)
    {
        _letGo.Add(guest);
        return hypervisor.StopAsync(guest, CancellationToken.None);
    }

    public async Task<GuestControlResult> Control(string guest, GuestControl control)
    {
        foreach (var (field, message) in control.Problems()) throw ClusterException.Invalid(message, field);
        if (_outgoing.ContainsKey(guest)) throw ClusterException.Conflict($"guest '{guest}' is migrating; try again when it has arrived");
        var result = await hypervisor.ControlAsync(guest, control, CancellationToken.None);
        if (control.Action is GuestAction.DeviceAdd or GuestAction.DeviceDel or GuestAction.Balloon) await Refresh(); // the spec changed
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
        var cts = new CancellationTokenSource();
        _outgoing[guest] = cts;
        var migrationGrain = GrainFactory.GetGrain<IMigrationGrain>(migration);
        // The transfer runs outside the grain's turn: it may take minutes, and progress and cancel calls must get in.
        _ = Task.Run(async () =>
        {
            string? failure = null;
            try
            {
                await hypervisor.MigrateAsync(guest, endpoint, order, p => migrationGrain.Report(p), cts.Token);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested) { failure = "cancelled"; }
            catch (Exception e) { failure = e.Message; }
            try { await migrationGrain.TransferEnded(failure); }
            catch (Exception e) { log.LogWarning(e, "could not tell migration {Migration} that its transfer ended", migration); }
        });
        return Task.CompletedTask;
    }

    public Task CancelOutgoing(string guest)
    {
        if (_outgoing.TryGetValue(guest, out var cts)) cts.Cancel();
        return Task.CompletedTask;
    }

    public Task<bool> IsSending(string guest) => Task.FromResult(_outgoing.ContainsKey(guest));

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
