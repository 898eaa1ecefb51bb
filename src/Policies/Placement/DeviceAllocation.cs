using System.Collections.Immutable;
using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Placement;

/// <summary>
/// Which of a host's free devices a guest gets: for each vendor:device id it asks, the free device of that id with the
/// lowest address; for its SR-IOV VFs, free VFs of physical functions on its network (any when it names none), lowest
/// first. A device is never given to two guests: what <paramref name="taken"/> holds is not free. The host grain keeps
/// the answer and puts the addresses on QEMU's command line.
/// </summary>
public static class DeviceAllocation
{
    /// <param name="devices">Assignable devices (address, vendor:device).</param>
    /// <param name="vfs">Virtual functions by physical function address: (VF address, the PF's network).</param>
    /// <param name="taken">Addresses other guests hold.</param>
    /// <returns>The addresses, or why not.</returns>
    public static (ImmutableArray<string> Addresses, string? Problem) For(Guest guest, IReadOnlyList<PciDevice> devices,
        IReadOnlyList<(string Address, string Network)> vfs, IReadOnlySet<string> taken)
    {
        var chosen = new List<string>();
        foreach (var group in guest.PciDevices.GroupBy(id => id, StringComparer.Ordinal))
        {
            var free = devices.Where(d => d.VendorDevice == group.Key && !taken.Contains(d.Address) && !chosen.Contains(d.Address))
                .Select(d => d.Address).Order(StringComparer.Ordinal).Take(group.Count()).ToList();
            if (free.Count < group.Count()) return ([], $"{group.Count()} × {group.Key} wanted, {free.Count} free");
            chosen.AddRange(free);
        }
        if (guest.SriovVfs > 0)
        {
            var free = vfs.Where(v => (guest.SriovNetwork is null || v.Network == guest.SriovNetwork) && !taken.Contains(v.Address))
                .Select(v => v.Address).Order(StringComparer.Ordinal).Take(guest.SriovVfs).ToList();
            if (free.Count < guest.SriovVfs)
                return ([], $"{guest.SriovVfs} VF(s){(guest.SriovNetwork is null ? "" : $" on {guest.SriovNetwork}")} wanted, {free.Count} free");
            chosen.AddRange(free);
        }
        return ([.. chosen], null);
    }
}
