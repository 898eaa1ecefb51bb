namespace KvmCluster.Policies.Model;

/// <summary>
/// A device hot-plugged into a running guest (id and QEMU device type). It is part of the guest's spec from then on,
/// so a migration's destination starts with the same devices.
/// </summary>
/// <param name="Slot">The PCIe hot-plug slot (root port) of a PCI device; null for devices on other buses.</param>
public sealed record GuestDevice(string Id, string Driver, int? Slot = null);
