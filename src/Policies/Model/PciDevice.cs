namespace KvmCluster.Policies.Model;

/// <summary>A PCI device bound to vfio-pci and assignable to a guest by VT-d/AMD-Vi.</summary>
/// <param name="Address">Domain:bus:slot.function, e.g. 0000:3b:00.0.</param>
/// <param name="VendorDevice">Vendor and device id, e.g. 10de:1db6.</param>
/// <param name="AssignedTo">The guest that holds it, or null when free.</param>
public sealed record PciDevice(string Address, string VendorDevice, string? AssignedTo = null)
{
    public bool IsFree => AssignedTo is null;
}
