using System.ComponentModel;
namespace KvmCluster.Policies.Model;

/// <summary>
/// A device hot-plugged into a running guest (id and QEMU device type). It is part of the guest's spec from then on,
/// so a migration's destination starts with the same devices.
/// </summary>
public sealed record GuestDevice(
    [property: Description("The device's id in QEMU.")] string Id,
    [property: Description("The QEMU device type (virtio-net-pci, virtserialport).")] string Driver,
    [property: Description("The PCIe hot-plug slot of a PCI device; null on other buses.")] int? Slot = null,
    [property: Description("A hot-plugged NIC's network (a tap on that network's bridge); null: QEMU's user-mode network.")] string? Network = null,
    [property: Description("A hot-plugged NIC's MAC address (derived from the guest's name and the device's id).")] string? Mac = null);
