using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Logging;

namespace KvmCluster.Grains.Scheduling;

/// <summary>
/// A guest's life cycle beyond placement, as virsh has it: define (a record, not running), start (placed, or on a
/// host), destroy (kill its QEMU), undefine (remove the record, and with it the images it owns). Shutdown is the
/// guest's own doing (ACPI), so it is asked of its host and waited for outside this grain.
/// </summary>
public sealed partial class SchedulerGrain
{
    /// <summary>States in which a guest's QEMU may exist: its record cannot be edited or removed then.</summary>
    private static bool MayRun(GuestStatus s) => s is GuestStatus.Starting or GuestStatus.Running or GuestStatus.Migrating or GuestStatus.Paused or GuestStatus.Unreachable;

    public async Task<GuestView> DefineGuest(Guest spec)
    {
        foreach (var (field, message) in spec.Problems()) throw ClusterException.Invalid(message, field);
        if (_naming.Contains(spec.Name)) throw ClusterException.Conflict($"guest '{spec.Name}' is starting");
        var grain = GrainFactory.GetGrain<IGuestGrain>(spec.Name);
        var record = await grain.Get();
        var existed = record is not null;
        var runsOn = record is not null && MayRun(record.Status) ? record.Host ?? "a host" : await StillRunsOn(spec.Name);
        if (runsOn is not null) throw ClusterException.Conflict($"guest '{spec.Name}' is running on {runsOn}: shut it down before editing its spec");
        // A guest that leaves its CPU at the default gets the cluster's baseline model, on record from its definition.
        var view = await grain.Define(CpuBaselines.Apply(spec, await CpuBaseline()) with { Host = null, Usage = UsageHistory.Empty });
        await Record(existed ? "guest-edited" : "guest-defined", spec.Name,
            $"guest {spec.Name} {(existed ? "edited" : "defined")} ({spec.VCpus} vCPU, {spec.MemoryMiB} MiB)", []);
        return view;
    }

    public async Task<PlacementView> StartGuest(string name, string? host)
    {
        // Claimed before the first await, as a placement is: two starts of one guest must not both launch it.
        if (!_naming.Add(name)) throw ClusterException.Conflict($"guest '{name}' is already starting");
        _engines.PlacementStarted();
        try
        {
            var record = await GrainFactory.GetGrain<IGuestGrain>(name).Get() ?? throw ClusterException.NotFound($"no guest named '{name}'");
            if (MayRun(record.Status)) throw ClusterException.Conflict($"guest '{name}' is {Words(record.Status)} on {record.Host ?? "no host"}");
            if (await StillRunsOn(name) is { } runsOn)
                throw ClusterException.Conflict($"guest '{name}' still runs on {runsOn} although its record says {Words(record.Status)}");
            var spec = record.Spec with { Host = null, Usage = UsageHistory.Empty };
            // Local and overlay disks live on the host the guest last ran on: it starts there, unless an operator
            // names another host (which makes them afresh there).
            var pin = host ?? (spec.CopiesDisksOnMigration ? record.Host : null);
            if (host is null && pin is not null && !_fleet.IsReachable(pin))
                throw ClusterException.Conflict($"guest '{name}' keeps its local disks on {pin}, which is unreachable; start it elsewhere with --host (its disks are made afresh there)");
            return await PlaceOne(spec, pin);
        }
        finally { _engines.PlacementEnded(); _naming.Remove(name); }
    }

    public async Task<GuestView> DestroyGuest(string name)
    {
        var host = LiveGuests().FirstOrDefault(g => g.Name == name)?.Host ?? throw ClusterException.Conflict($"guest '{name}' is not running");
        if (_migrations.Involves(name)) throw ClusterException.Conflict($"guest '{name}' is migrating ({_migrations.Of(name)!.Id}): cancel the migration first");
        if (!_fleet.IsReachable(host)) throw ClusterException.Unavailable($"guest '{name}' is on {host}, which is unreachable");
        await HostGrain(host).Stop(name);
        _fleet.LaunchFailed(name);
        if (_fleet.Report(await HostGrain(host).Refresh(), clock.Now)) RosterChanged(); // the fleet picture without it, now
        log.LogInformation("guest {Guest} destroyed on {Host}", name, host);
        await Record("guest-destroyed", name, $"guest {name} destroyed on {host} (its QEMU killed)", []);
        return await GrainFactory.GetGrain<IGuestGrain>(name).Get() ?? throw ClusterException.NotFound($"no guest named '{name}'");
    }

    public async Task<GuestView> UndefineGuest(string name, bool removeDisks)
    {
        if (_naming.Contains(name)) throw ClusterException.Conflict($"guest '{name}' is starting");
        var grain = GrainFactory.GetGrain<IGuestGrain>(name);
        var record = await grain.Get() ?? throw ClusterException.NotFound($"no guest named '{name}'");
        if (MayRun(record.Status)) throw ClusterException.Conflict($"guest '{name}' is {Words(record.Status)}: shut it down or destroy it first");
        if (await StillRunsOn(name) is { } runsOn) throw ClusterException.Conflict($"guest '{name}' runs on {runsOn}: shut it down or destroy it first");
        var removed = new List<string>();
        if (removeDisks && record.Spec.CopiesDisksOnMigration && record.Host is { } host)
        {
            if (!_fleet.IsReachable(host)) throw ClusterException.Unavailable($"guest '{name}' keeps its disks on {host}, which is unreachable: undefine it without --remove-disks, or when {host} is back");
            await HostGrain(host).RemoveDisks(record.Spec);
            removed.Add($"its local and overlay disks on {host} removed");
        }
        var gone = await grain.Undefine();
        await Record("guest-undefined", name, $"guest {name} undefined" + (removed.Count > 0 ? $" ({removed[0]})" : ""), removed);
        return gone;
    }

    /// <summary>
    /// Where a guest whose record says it is down still runs, as the fleet picture has it, or null. The picture may
    /// lag the record (its host wrote the record on seeing QEMU end): a guest launched and never reported since is
    /// forgotten, and the host whose last report still lists it is asked again.
    /// </summary>
    private async Task<string?> StillRunsOn(string name)
    {
        _fleet.LaunchFailed(name);
        if (LiveGuests().FirstOrDefault(g => g.Name == name)?.Host is { } reportedOn && _fleet.IsReachable(reportedOn))
            if (_fleet.Report(await HostGrain(reportedOn).Refresh(), clock.Now)) RosterChanged();
        return LiveGuests().FirstOrDefault(g => g.Name == name)?.Host;
    }

    private string? _baseline;
    private bool _baselineStale = true;

    public Task BaselineChanged()
    {
        _baselineStale = true;
        return Task.CompletedTask;
    }

    /// <summary>The baseline setting, read again when it changed.</summary>
    private async Task<string?> CpuBaseline()
    {
        if (_baselineStale)
        {
            _baselineStale = false;
            _baseline = await GrainFactory.GetGrain<ICpuBaselineGrain>(Cluster.Key).Get();
        }
        return _baseline;
    }

    public async Task<BaselineView> Baseline()
    {
        var model = await CpuBaseline();
        var hosts = _fleet.Reports.Where(r => _fleet.IsReachable(r.Host.Name)).Select(r => r.Host).ToList();
        var common = KvmCluster.Policies.Classes.CpuBaseline.Of(hosts).Models;
        var lacking = model is null ? [] : hosts.Where(h => !h.Cpu.QemuModels.Contains(model)).Select(h => h.Name).Order(StringComparer.Ordinal).ToList();
        return new BaselineView(model, [.. common], lacking);
    }

    private static string Words(GuestStatus s) => s.ToString().ToLowerInvariant() switch
    {
        "shutoff" => "shut off",
        var w => w,
    };
}
