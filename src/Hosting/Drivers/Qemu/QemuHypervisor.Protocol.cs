using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Grains.Ports;
using KvmCluster.Policies.Migration;
using Microsoft.Extensions.Logging;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// The migration protocol's facts and its recovery (docs/migration-protocol.md): what QEMU says of each side, the
/// record kept beside a guest while it migrates (which migration, which side), and what a restarted silo does with a
/// QEMU it finds mid-migration — keep it as it is until its migration grain has said.
/// </summary>
public sealed partial class QemuHypervisor
{
    /// <summary>What the migration record beside a guest's pid file holds.</summary>
    private sealed record MigrationRecord(string Id, bool IsSource, MigrationOrder? Order);

    private readonly List<AdoptedMigration> _adoptedMigrations = [];

    public IReadOnlyList<AdoptedMigration> AdoptedMigrations()
    {
        // Only copies still here: one that has gone since (its QEMU died, or it was discarded) has nothing to settle.
        lock (_adoptedMigrations) return [.. _adoptedMigrations.Where(m => _vms.TryGetValue(m.Guest, out var vm) && !vm.Qemu.HasExited)];
    }

    private static async Task SaveMigration(GuestFiles files, MigrationOrder order, bool isSource)
    {
        if (order.Id is not { } id) return; // a direct migration (benchmarks): no grain to settle it with
        var record = new MigrationRecord(id, isSource, order);
        await File.WriteAllTextAsync(files.Migration, JsonSerializer.Serialize(record, Grains.Serialization.PolicyTypesSerialization.Options));
    }

    private static void ForgetMigration(GuestFiles files)
    {
        try { File.Delete(files.Migration); } catch (IOException) { }
    }

    private async Task<MigrationRecord?> ReadMigration(GuestFiles files)
    {
        if (!File.Exists(files.Migration)) return null;
        try { return JsonSerializer.Deserialize<MigrationRecord>(await File.ReadAllTextAsync(files.Migration), Grains.Serialization.PolicyTypesSerialization.Options); }
        catch (JsonException e) { log.LogWarning("migration record of {Guest} unreadable: {Error}", files.Pid, e.Message); return null; }
    }

    public async Task<SourceFact> OutgoingStateAsync(string guest, CancellationToken cancellationToken)
    {
        // Not before this silo has adopted the QEMUs it found: until then "not here" would be a lie ("gone").
        await EnsureUsable(cancellationToken);
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Running || vm.Qemu.HasExited) return SourceFact.Gone;
        var run = (await vm.Qemu.Qmp.ExecuteAsync("query-status", timeout: Timeout, cancellationToken: cancellationToken)).GetProperty("status").GetString();
        if (run == "postmigrate") return SourceFact.HandedOver;
        var migrate = await vm.Qemu.Qmp.ExecuteAsync("query-migrate", timeout: Timeout, cancellationToken: cancellationToken);
        var status = migrate.TryGetProperty("status", out var st) ? st.GetString() : null;
        if (status is "setup" or "active" or "pre-switchover" or "device" or "postcopy-active" or "postcopy-paused" or "wait-unplug" or "cancelling")
            return SourceFact.Sending;
        return run == "running" ? SourceFact.Running : SourceFact.Paused;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, GuestExit> _exits = new(StringComparer.Ordinal);

    public GuestExit? ExitOf(string guest) => _exits.GetValueOrDefault(guest);

    /// <summary>What a guest's QEMU wrote to its standard error so far (diagnostics and tests).</summary>
    internal string? QemuErrors(string guest) => _vms.TryGetValue(guest, out var vm) ? vm.Qemu.Errors : null;

    private async Task<GuestExit> NoteExit(string guest, QemuProcess qemu) => _exits[guest] = await qemu.EndedAsync();

    public async Task<DestinationFact> IncomingStateAsync(string guest, CancellationToken cancellationToken)
    {
        await EnsureUsable(cancellationToken); // adopted first, as above
        // An incoming QEMU whose migration failed exits (QEMU 7.2 quits when loading the stream fails).
        if (!_vms.TryGetValue(guest, out var vm)) return DestinationFact.Gone;
        if (vm.Qemu.HasExited)
        {
            log.LogWarning("incoming copy of {Guest}: {Exit}", guest, (await NoteExit(guest, vm.Qemu)).Why);
            return DestinationFact.Gone;
        }
        if (vm.Role == Role.Running) return DestinationFact.Running;
        var run = (await vm.Qemu.Qmp.ExecuteAsync("query-status", timeout: Timeout, cancellationToken: cancellationToken)).GetProperty("status").GetString();
        return run switch
        {
            "inmigrate" => DestinationFact.Receiving,
            "running" => DestinationFact.Running, // post-copy: it runs from the switch
            _ => DestinationFact.Received, // -S: paused with the whole guest, until the decision
        };
    }

    public async Task AllowIncomingToRunAsync(string guest, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Incoming) throw ClusterException.NotFound($"no incoming guest '{guest}' on this host");
        // While still receiving, cont only marks the guest to run as soon as it may: at the post-copy switch.
        await vm.Qemu.Qmp.ExecuteAsync("cont", timeout: Timeout, cancellationToken: cancellationToken);
    }

    public async Task WatchOutgoingAsync(string guest, MigrationOrder order, Func<MigrationProgress, Task> progress, CancellationToken cancellationToken)
    {
        if (!_vms.TryGetValue(guest, out var vm) || vm.Role != Role.Running) throw ClusterException.NotFound($"no running guest '{guest}' on this host");
        // The disk copies run on in QEMU without a silo: this one finishes them at the switch-over.
        var mirror = vm.Spec.CopiesDisksOnMigration ? await QemuDiskMirror.AttachAsync(vm.Qemu.Qmp, vm.Spec, Timeout) : null;
        try { await TransferAsync(vm, mirror, order, progress, cancellationToken); }
        finally { vm.DirtyMiBps = null; }
    }

    /// <summary>
    /// A QEMU a previous silo left mid-migration: kept as it is, on its side, until the host grain has asked its
    /// migration grain. Killing it here could kill the only copy (a destination that has everything while the source
    /// handed over); running it could run the guest twice.
    /// </summary>
    private async Task<bool> AdoptMigrating(string name, Policies.Model.Guest spec, QemuProcess qemu, GuestFiles files, string? status)
    {
        if (await ReadMigration(files) is not { } record) return false;
        _vms[name] = new Vm(spec, qemu, record.IsSource ? Role.Running : Role.Incoming);
        lock (_adoptedMigrations) _adoptedMigrations.Add(new AdoptedMigration(name, record.Id, record.IsSource, record.Order));
        log.LogInformation("adopted {Side} copy of {Guest} mid-migration {Migration} (QEMU pid {Pid}, {State}); its migration decides what becomes of it",
            record.IsSource ? "source" : "incoming", name, record.Id, qemu.Process.Id, status);
        return true;
    }
}
