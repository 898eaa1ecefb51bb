using System.Text.Json;
using KvmCluster.Grains.Contracts;
using KvmCluster.Policies.Model;

namespace KvmCluster.Hosting.Drivers.Qemu;

/// <summary>
/// Day-to-day operations on one running QEMU over QMP: run state, balloon, hot-plugged devices (virtio-serial ports,
/// virtio NICs in PCIe slots), savevm/loadvm/delvm. Returns the guest's spec as changed by the operation.
/// </summary>
/// <param name="taps">Makes a hot-plugged NIC's tap on a network's bridge (network, device id → tap name), and removes it.</param>
/// <param name="assign">Allocates a free assignable device of a vendor:device id to the guest (its address), bound to vfio-pci.</param>
public sealed class QemuGuestOperations(QmpClient qmp, TimeSpan timeout, int pcieSlots,
    (Func<string, string, CancellationToken, Task<string>> Make, Func<string, Task> Drop)? taps = null,
    Func<Guest, string, Task<string>>? assign = null, Func<string, string?>? vendorOf = null)
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
                case GuestAction.DeviceAdd when control.Driver == "vfio-pci":
                    if (spec.Devices.Any(d => d.Id == control.Name)) throw ClusterException.Conflict($"guest '{guest}' already has a device '{control.Name}'");
                    return await PassThroughAsync(spec, control.Name!, control.Pci!, cancellationToken);
                case GuestAction.DeviceAdd:
                    if (spec.Devices.Any(d => d.Id == control.Name)) throw ClusterException.Conflict($"guest '{guest}' already has a device '{control.Name}'");
                    return spec with { Devices = spec.Devices.Add(await PlugAsync(spec, control.Name!, control.Driver!, control.Network, cancellationToken)) };
                case GuestAction.DeviceDel:
                    if (spec.Devices.FirstOrDefault(d => d.Id == control.Name) is not { } device) throw ClusterException.NotFound($"guest '{guest}' has no hot-plugged device '{control.Name}'");
                    // Which host device a passed-through one is, asked of QEMU before it goes.
                    var passedThrough = device.Driver == "vfio-pci" && await Present(device.Id, cancellationToken)
                        ? (await Run("qom-get", new { path = $"/machine/peripheral/{device.Id}", property = "host" })).GetString()
                        : null;
                    // Already gone: the guest let go of it after an earlier request timed out.
                    if (await Present(device.Id, cancellationToken))
                        try { await Run("device_del", new { id = device.Id }); }
                        catch (QmpException e) when (e.Description.Contains("process of unplug", StringComparison.Ordinal)) { } // asked before: wait again
                    await WaitUntilGone(device, cancellationToken);
                    if (device.Driver == "vfio-pci")
                    {
                        // The device goes back to the host's free ones: the spec no longer holds it nor asks for its id.
                        var address = passedThrough is null ? null : spec.HostDevices.FirstOrDefault(a => string.Equals(a, passedThrough, StringComparison.OrdinalIgnoreCase));
                        var id = address is null || vendorOf is null ? null : vendorOf(address);
                        return spec with
                        {
                            Devices = spec.Devices.Remove(device),
                            HostDevices = address is null ? spec.HostDevices : spec.HostDevices.Remove(address),
                            PciDevices = id is null ? spec.PciDevices : spec.PciDevices.Remove(id),
                        };
                    }
                    if (device.Driver == "virtserialport") await RemoveBackend("chardev-remove", $"cd-{device.Id}", cancellationToken);
                    else await RemoveBackend("netdev_del", $"nd-{device.Id}", cancellationToken);
                    if (device.Network is not null && taps is { } t) await t.Drop(device.Id);
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

    private async Task<GuestDevice> PlugAsync(Guest spec, string id, string driver, string? network, CancellationToken cancellationToken)
    {
        if (driver == "virtserialport")
        {
            await Run("chardev-add", new { id = $"cd-{id}", backend = new { type = "null", data = new { } } }, cancellationToken);
            await Run("device_add", new Dictionary<string, object> { ["driver"] = driver, ["id"] = id, ["chardev"] = $"cd-{id}", ["bus"] = "vser0.0" }, cancellationToken);
            return new GuestDevice(id, driver);
        }
        var used = spec.Devices.Select(d => d.Slot).OfType<int>().ToHashSet();
        var slot = Enumerable.Range(0, pcieSlots).Cast<int?>().FirstOrDefault(k => !used.Contains(k!.Value))
            ?? throw ClusterException.Conflict($"guest '{spec.Name}' has no free PCIe hot-plug slot ({pcieSlots} in all)");
        if (network is null)
        {
            await Run("netdev_add", new { type = "user", id = $"nd-{id}" }, cancellationToken);
            try { await Run("device_add", new Dictionary<string, object> { ["driver"] = driver, ["id"] = id, ["netdev"] = $"nd-{id}", ["bus"] = $"hp{slot}" }, cancellationToken); }
            catch (QmpException) { await RemoveBackend("netdev_del", $"nd-{id}", cancellationToken); throw; }
            return new GuestDevice(id, driver, slot);
        }
        // A NIC on a named network: a tap on its bridge, the MAC derived from the guest's name and the device's id.
        if (taps is not { } t) throw ClusterException.Invalid("this driver has no named networks", "network");
        var tap = await t.Make(network, id, cancellationToken);
        var mac = GuestNic.Derived(spec.Name, id);
        try
        {
            await Run("netdev_add", new Dictionary<string, object> { ["type"] = "tap", ["id"] = $"nd-{id}", ["ifname"] = tap, ["script"] = "no", ["downscript"] = "no" }, cancellationToken);
            try { await Run("device_add", new Dictionary<string, object> { ["driver"] = driver, ["id"] = id, ["netdev"] = $"nd-{id}", ["bus"] = $"hp{slot}", ["mac"] = mac }, cancellationToken); }
            catch (QmpException) { await RemoveBackend("netdev_del", $"nd-{id}", cancellationToken); throw; }
        }
        catch { await t.Drop(id); throw; }
        return new GuestDevice(id, driver, slot, network, mac);
    }

    /// <summary>
    /// A passed-through device hot-plugged into an empty PCIe slot: its host allocates a free one of the id (never one
    /// another guest holds), and the guest holds it from then on (its spec lists the id and the address).
    /// </summary>
    private async Task<Guest> PassThroughAsync(Guest spec, string id, string pci, CancellationToken cancellationToken)
    {
        if (assign is null) throw ClusterException.Invalid("this driver passes no devices through", "driver");
        var used = spec.Devices.Select(d => d.Slot).OfType<int>().ToHashSet();
        var slot = Enumerable.Range(0, pcieSlots).Cast<int?>().FirstOrDefault(k => !used.Contains(k!.Value))
            ?? throw ClusterException.Conflict($"guest '{spec.Name}' has no free PCIe hot-plug slot ({pcieSlots} in all)");
        var address = await assign(spec, pci);
        await Run("device_add", new Dictionary<string, object> { ["driver"] = "vfio-pci", ["id"] = id, ["host"] = address, ["bus"] = $"hp{slot}" }, cancellationToken);
        return spec with
        {
            PciDevices = spec.PciDevices.Add(pci),
            HostDevices = spec.HostDevices.Add(address),
            Devices = spec.Devices.Add(new GuestDevice(id, "vfio-pci", slot)),
        };
    }

    /// <summary>A device lets go of its backend (chardev, netdev) a moment after it leaves the device tree.</summary>
    private async Task RemoveBackend(string command, string id, CancellationToken cancellationToken)
    {
        for (var deadline = DateTime.UtcNow + timeout; ; await Task.Delay(20, cancellationToken))
        {
            try { await qmp.ExecuteAsync(command, new { id }, timeout, cancellationToken); return; }
            catch (QmpException e) when (e.Description.Contains("busy", StringComparison.Ordinal) && DateTime.UtcNow < deadline) { }
            catch (QmpException e) when (e.ErrorClass == "DeviceNotFound" || e.Description.Contains("not found", StringComparison.OrdinalIgnoreCase)) { return; }
        }
    }

    private async Task<bool> Present(string id, CancellationToken cancellationToken)
    {
        var peripherals = await qmp.ExecuteAsync("qom-list", new { path = "/machine/peripheral" }, timeout, cancellationToken);
        return peripherals.EnumerateArray().Any(p => p.GetProperty("name").GetString() == id);
    }

    private async Task WaitUntilGone(GuestDevice device, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (!await Present(device.Id, cancellationToken)) return;
            await Task.Delay(20, cancellationToken);
        }
        throw ClusterException.Conflict(device.Slot is null
            ? $"device '{device.Id}' was not removed within {timeout.TotalSeconds:0} s"
            : $"the guest did not release device '{device.Id}' within {timeout.TotalSeconds:0} s (PCIe hot-unplug needs the guest to power its slot off); the request stays pending — ask again to see whether it went");
    }
}
