using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;

namespace KvmCluster.Silo.Drivers.Qemu;

/// <summary>
/// Day-to-day operations on one running QEMU over QMP: run state, balloon, hot-plugged virtio-serial ports,
/// savevm/loadvm/delvm. Returns the guest's spec as changed by the operation (balloon target, devices).
/// </summary>
public sealed class QemuGuestOperations(QmpClient qmp, TimeSpan timeout)
{
    private Task<JsonElement> Run(string command, object? arguments, CancellationToken cancellationToken) =>
        qmp.ExecuteAsync(command, arguments, timeout, cancellationToken);

    public async Task<Guest> ApplyAsync(Guest spec, GuestControl control, CancellationToken cancellationToken)
    {
        var guest = spec.Name;
        Task<JsonElement> Run(string command, object? arguments = null) => this.Run(command, arguments, cancellationToken);
        try
        {
            switch (control.Action)
            {
                case GuestAction.Stop: await Run("stop"); break;
                case GuestAction.Cont: await Run("cont"); break;
                case GuestAction.Powerdown: await Run("system_powerdown"); break;
                case GuestAction.Reset: await Run("system_reset"); break;
                case GuestAction.Balloon:
                    if (spec.HugepageSizeKiB is not null) throw ClusterException.Conflict($"guest '{guest}' is hugepage-backed and cannot be ballooned");
                    if (control.Value > spec.MemoryMiB) throw ClusterException.Invalid($"balloon target {control.Value} MiB is more than the guest's {spec.MemoryMiB} MiB", "value");
                    await Run("balloon", new { value = control.Value!.Value * 1024 * 1024 });
                    return spec with { BalloonTargetMiB = control.Value };
                case GuestAction.DeviceAdd:
                    if (spec.Devices.Any(d => d.Id == control.Name)) throw ClusterException.Conflict($"guest '{guest}' already has a device '{control.Name}'");
                    await Run("chardev-add", new { id = $"cd-{control.Name}", backend = new { type = "null", data = new { } } });
                    await Run("device_add", new Dictionary<string, object> { ["driver"] = control.Driver!, ["id"] = control.Name!, ["chardev"] = $"cd-{control.Name}", ["bus"] = "vser0.0" });
                    return spec with { Devices = spec.Devices.Add(new GuestDevice(control.Name!, control.Driver!)) };
                case GuestAction.DeviceDel:
                    if (spec.Devices.FirstOrDefault(d => d.Id == control.Name) is not { } device) throw ClusterException.NotFound($"guest '{guest}' has no hot-plugged device '{control.Name}'");
                    await Run("device_del", new { id = control.Name });
                    await WaitUntilGone(control.Name!, cancellationToken);
                    await RemoveChardev($"cd-{control.Name}", cancellationToken);
                    return spec with { Devices = spec.Devices.Remove(device) };
                case GuestAction.SnapshotSave: await Hmp($"savevm {control.Name}", cancellationToken); break;
                case GuestAction.SnapshotLoad:
                    var wasRunning = (await Run("query-status")).GetProperty("running").GetBoolean();
                    try { await Hmp($"loadvm {control.Name}", cancellationToken); }
                    catch (QmpException) when (wasRunning)
                    {
                        // QEMU 7.2 stops the guest for loadvm and leaves it stopped (run state restore-vm) when the
                        // load fails; a later migration of it then aborts the source QEMU ("invalid runstate
                        // transition: 'restore-vm' -> 'finish-migrate'"). Measured; so resume it.
                        await Run("cont");
                        throw;
                    }
                    break;
                case GuestAction.SnapshotDelete: await Hmp($"delvm {control.Name}", cancellationToken); break;
            }
        }
        catch (QmpException e) { throw ClusterException.Conflict($"QEMU refused {control.Action} on '{guest}': {e.ErrorClass}: {e.Description}"); }
        return spec;
    }

    public async Task<GuestControlResult> ResultAsync(Guest spec, CancellationToken cancellationToken)
    {
        var status = (await Run("query-status", null, cancellationToken)).GetProperty("status").GetString() ?? "?";
        long? actual = null;
        try { actual = (long)((await Run("query-balloon", null, cancellationToken)).GetProperty("actual").GetDouble() / 1024 / 1024); }
        catch (QmpException) { /* no balloon (or not yet ready) */ }
        return new GuestControlResult(spec.Name, status, actual, [.. spec.Devices.Select(d => $"{d.Id} ({d.Driver})")], await Snapshots(cancellationToken));
    }

    /// <summary>savevm/loadvm/delvm exist only as monitor commands; they report failure as text, not as a QMP error.</summary>
    private async Task Hmp(string command, CancellationToken cancellationToken)
    {
        var output = (await qmp.ExecuteAsync("human-monitor-command", new Dictionary<string, object> { ["command-line"] = command }, TimeSpan.FromSeconds(60), cancellationToken)).GetString();
        if (!string.IsNullOrWhiteSpace(output)) throw new QmpException(command.Split(' ')[0], "GenericError", output.Trim());
    }

    private async Task<IReadOnlyList<string>> Snapshots(CancellationToken cancellationToken)
    {
        var output = (await qmp.ExecuteAsync("human-monitor-command", new Dictionary<string, object> { ["command-line"] = "info snapshots" }, timeout, cancellationToken)).GetString() ?? "";
        // Lines after the header: "--  NAME  SIZE DATE ..."; the second column is the tag.
        return [.. output.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 3 && f[0] is "--" or [>= '0' and <= '9', ..] && f[1] != "TAG").Select(f => f[1])];
    }

    /// <summary>The port lets go of its chardev a moment after it leaves the device tree.</summary>
    private async Task RemoveChardev(string id, CancellationToken cancellationToken)
    {
        for (var deadline = DateTime.UtcNow + timeout; ; await Task.Delay(20, cancellationToken))
        {
            try { await qmp.ExecuteAsync("chardev-remove", new { id }, timeout, cancellationToken); return; }
            catch (QmpException e) when (e.Description.Contains("busy", StringComparison.Ordinal) && DateTime.UtcNow < deadline) { }
        }
    }

    private async Task WaitUntilGone(string id, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var peripherals = await qmp.ExecuteAsync("qom-list", new { path = "/machine/peripheral" }, timeout, cancellationToken);
            if (!peripherals.EnumerateArray().Any(p => p.GetProperty("name").GetString() == id)) return;
            await Task.Delay(20, cancellationToken);
        }
        throw ClusterException.Conflict($"device '{id}' was not removed within {timeout.TotalSeconds:0} s (the guest did not release it)");
    }
}
