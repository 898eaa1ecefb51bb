using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Guests;

[GenerateSerializer, Alias("kvm.GuestState")]
public sealed class GuestState
{
    [Id(0)] public Guest? Spec { get; set; }
    [Id(1)] public string? Host { get; set; }
    [Id(2)] public GuestStatus Status { get; set; }
    [Id(3)] public string? Migration { get; set; }
    [Id(4)] public DateTimeOffset UpdatedAt { get; set; }
    [Id(5)] public List<EventRecord> History { get; set; } = [];
}

/// <summary>A guest's spec, where it runs, and what happened to it. The host's inventory is the truth about what
/// runs; this grain is the record an operator asks ("where is it, what happened to it?").</summary>
public sealed class GuestGrain(
    [PersistentState("guest", StorageNames.Store)] IPersistentState<GuestState> state,
    FleetClock clock) : Grain, IGuestGrain
{
    private const int HistoryLength = 100;

    public Task<GuestView?> Get() => Task.FromResult(state.State.Spec is null ? null : View());

    public async Task<GuestView> Define(Guest spec)
    {
        if (spec.Name != this.GetPrimaryKeyString()) throw ClusterException.Invalid($"guest name '{spec.Name}' does not match '{this.GetPrimaryKeyString()}'", "name");
        var edit = state.State.Spec is not null;
        if (edit && !IsDown(state.State.Status))
            throw ClusterException.Conflict($"guest '{spec.Name}' is {state.State.Status.ToString().ToLowerInvariant()} on {state.State.Host ?? "no host"}: shut it down before editing its spec");
        state.State.Spec = spec;
        // An edited guest keeps its last host: its local disks are there.
        state.State.Status = GuestStatus.Defined;
        state.State.Migration = null;
        Remember(edit ? "edited" : "defined", $"guest {spec.Name} {(edit ? "edited" : "defined")} ({spec.VCpus} vCPU, {spec.MemoryMiB} MiB)");
        await Save();
        return View();
    }

    public async Task<GuestView> Undefine()
    {
        if (state.State.Spec is null) throw ClusterException.NotFound($"no guest named '{this.GetPrimaryKeyString()}'");
        if (!IsDown(state.State.Status))
            throw ClusterException.Conflict($"guest '{this.GetPrimaryKeyString()}' is {state.State.Status.ToString().ToLowerInvariant()}: shut it down or destroy it first");
        var was = View();
        await state.ClearStateAsync();
        await GuestDirectory.For(GrainFactory, this.GetPrimaryKeyString()).Set(this.GetPrimaryKeyString(), null);
        DeactivateOnIdle();
        return was;
    }

    /// <summary>No QEMU of it exists (as far as its record knows): its spec may change, its record may go.</summary>
    private static bool IsDown(GuestStatus s) => s is GuestStatus.Defined or GuestStatus.ShutOff or GuestStatus.Crashed or GuestStatus.Failed or GuestStatus.Lost;

    public async Task<GuestView> Placed(Guest spec)
    {
        if (spec.Host is null) throw ClusterException.Invalid($"guest '{spec.Name}' has no host", "host");
        if (spec.Name != this.GetPrimaryKeyString()) throw ClusterException.Invalid($"guest name '{spec.Name}' does not match '{this.GetPrimaryKeyString()}'", "name");
        state.State.Spec = spec;
        state.State.Host = spec.Host;
        state.State.Status = GuestStatus.Running;
        state.State.Migration = null;
        Remember("placed", $"guest {spec.Name} ({spec.VCpus} vCPU, {spec.MemoryMiB} MiB) placed and running on {spec.Host}");
        await Save();
        return View();
    }

    public async Task<GuestView> Locate(string? host, GuestStatus status, string? migration)
    {
        if (state.State.Spec is null) throw ClusterException.NotFound($"no guest named '{this.GetPrimaryKeyString()}'");
        if (state.State.Host != host || state.State.Status != status || state.State.Migration != migration)
        {
            state.State.Host = host;
            state.State.Status = status;
            state.State.Migration = migration;
            Remember(status.ToString().ToLowerInvariant(), $"guest {state.State.Spec.Name} {status.ToString().ToLowerInvariant()} on {host ?? "no host"}"
                + (migration is null ? "" : $" (migration {migration})"));
            await Save();
        }
        return View();
    }

    /// <summary>The record, then its line in the guest directory: both stored before the caller hears of the change.</summary>
    private async Task Save()
    {
        await state.WriteStateAsync();
        await GuestDirectory.For(GrainFactory, this.GetPrimaryKeyString()).Set(this.GetPrimaryKeyString(), new GuestEntry(state.State.Host, state.State.Status, state.State.UpdatedAt));
    }

    public Task<GuestRecord?> Export() => Task.FromResult(state.State.Spec is not { } spec ? null
        : new GuestRecord(spec, state.State.Host, state.State.Status, state.State.Migration, state.State.UpdatedAt, [.. state.State.History]));

    public async Task<GuestView> Restore(GuestRecord record)
    {
        if (record.Spec.Name != this.GetPrimaryKeyString()) throw ClusterException.Invalid($"guest name '{record.Spec.Name}' does not match '{this.GetPrimaryKeyString()}'", "name");
        state.State.Spec = record.Spec;
        state.State.Host = record.Host;
        // Migration records are not imported: a guest that was migrating is recorded on its source, and
        // reconciliation moves the record if the destination is the host that reports it.
        state.State.Status = record.Status == GuestStatus.Migrating ? GuestStatus.Running : record.Status;
        state.State.Migration = null;
        state.State.History = [.. record.History.TakeLast(HistoryLength - 1)];
        // Stamped now: the record is as fresh as the import, so reconciliation gives hosts their usual time to report it.
        Remember("imported", $"guest {record.Spec.Name} record imported ({record.Status.ToString().ToLowerInvariant()} on {record.Host ?? "no host"} when exported)");
        await Save();
        return View();
    }

    public Task<IReadOnlyList<EventRecord>> History() => Task.FromResult<IReadOnlyList<EventRecord>>(state.State.History.ToList());

    private void Remember(string kind, string message)
    {
        state.State.UpdatedAt = clock.Now;
        state.State.History.Add(new EventRecord(state.State.History.Count + 1, state.State.UpdatedAt, kind, this.GetPrimaryKeyString(), message, []));
        if (state.State.History.Count > HistoryLength) state.State.History.RemoveAt(0);
    }

    private GuestView View() => new(this.GetPrimaryKeyString(), state.State.Spec!, state.State.Host, state.State.Status, state.State.UpdatedAt, state.State.Migration);
}
