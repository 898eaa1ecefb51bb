using KvmCluster.Grains.Contracts;

namespace KvmCluster.Hosting.Facts;

/// <summary>
/// Hands a PCI device to vfio-pci through sysfs, as the handbook does by hand: driver_override names vfio-pci, the
/// current driver lets go (unbind), and drivers_probe binds it again — to vfio-pci now. Needs root and the vfio-pci module.
/// </summary>
public static class VfioBinding
{
    public static async Task BindAsync(string root, string address)
    {
        var device = Path.Combine(root, "sys/bus/pci/devices", address);
        if (!Directory.Exists(device)) throw ClusterException.Conflict($"PCI device {address} is not on this host");
        var driver = new FileInfo(Path.Combine(device, "driver")).LinkTarget is { } t ? Path.GetFileName(t) : null;
        if (driver == "vfio-pci") return;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(device, "driver_override"), "vfio-pci");
            if (driver is not null) await File.WriteAllTextAsync(Path.Combine(device, "driver", "unbind"), address);
            await File.WriteAllTextAsync(Path.Combine(root, "sys/bus/pci/drivers_probe"), address);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ClusterException.Unavailable($"cannot bind {address} to vfio-pci: {e.Message} (the silo needs root and the vfio-pci module)");
        }
    }
}
