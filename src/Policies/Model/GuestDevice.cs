namespace KvmCluster.Policies.Model;

/// <summary>
/// A device hot-plugged into a running guest (id and QEMU device type). It is part of the guest's spec from then on,
/// so a migration's destination starts with the same devices.
/// </summary>
public sealed record GuestDevice(string Id, string Driver);
