using KvmCluster.Policies.Model;

namespace KvmCluster.Grains.Contracts;

/// <summary>Day-to-day operations on a running guest (QEMU's stop/cont, system_powerdown/reset, balloon, device_add/del, savevm/loadvm/delvm).</summary>
public enum GuestAction
{
    Status,
    Stop,
    Cont,
    Powerdown,
    Reset,
    Balloon,
    DeviceAdd,
    DeviceDel,
    SnapshotSave,
    SnapshotLoad,
    SnapshotDelete,
}

/// <summary>One operation; <see cref="Value"/> is the balloon target (MiB), <see cref="Name"/> the device id or snapshot name, <see cref="Driver"/> the device type.</summary>
[GenerateSerializer, Immutable, Alias("kvm.GuestControl")]
public sealed record GuestControl(
    [property: Id(0)] GuestAction Action,
    [property: Id(1)] long? Value = null,
    [property: Id(2)] string? Name = null,
    [property: Id(3)] string? Driver = null,
    [property: Id(4)] string? Network = null,
    [property: Id(5)] string? Pci = null)
{
    /// <summary>
    /// Devices that can be hot-plugged: virtio-serial ports (no guest cooperation needed) and virtio NICs in a PCIe
    /// hot-plug slot (the guest powers the slot off to let one go, as with any PCIe hot-unplug).
    /// </summary>
    public static readonly IReadOnlyList<string> HotplugDrivers = ["virtserialport", "virtio-net-pci", "vfio-pci"];

    public IEnumerable<(string Field, string Message)> Problems()
    {
        switch (Action)
        {
            case GuestAction.Balloon when Value is null or < 1:
                yield return ("value", "the balloon target in MiB is required (≥ 1)");
                break;
            case GuestAction.DeviceAdd when Driver is null || !HotplugDrivers.Contains(Driver):
                yield return ("driver", $"device type must be one of {string.Join(", ", HotplugDrivers)}");
                break;
        }
        if (Action == GuestAction.DeviceAdd && Driver == "vfio-pci" && (Pci is null || !PciIds.IsVendorDevice(Pci)))
            yield return ("pci", "a passed-through device is asked for by its vendor:device id, e.g. 10de:1db6");
        if (Pci is not null && (Action != GuestAction.DeviceAdd || Driver != "vfio-pci"))
            yield return ("pci", "only a passed-through device (device-add with driver vfio-pci) has a vendor:device id");
        if (Network is not null && (Action != GuestAction.DeviceAdd || Driver != "virtio-net-pci"))
            yield return ("network", "only a hot-plugged NIC (device-add with driver virtio-net-pci) is on a network");
        else if (Network is not null && !GuestNic.NetworkName().IsMatch(Network))
            yield return ("network", $"'{Network}' is not a network name: lower-case letters, digits and -, at most 32");
        if (Action is GuestAction.DeviceAdd or GuestAction.DeviceDel or GuestAction.SnapshotSave or GuestAction.SnapshotLoad or GuestAction.SnapshotDelete
            && GuestName.Problem(Name) is { } p)
            yield return ("name", p.Replace("guest name", "name", StringComparison.Ordinal));
    }
}

/// <summary>What the guest looks like after the operation (QEMU's run state, balloon, hot-plugged devices, snapshots).</summary>
[GenerateSerializer, Immutable, Alias("kvm.GuestControlResult")]
public sealed record GuestControlResult(
    [property: Id(0)] string Guest,
    [property: Id(1)] string RunState,
    [property: Id(2)] long? BalloonActualMiB,
    [property: Id(3)] IReadOnlyList<string> Devices,
    [property: Id(4)] IReadOnlyList<string> Snapshots);
