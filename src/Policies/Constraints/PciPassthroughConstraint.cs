using KvmCluster.Policies.Placement;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// VFIO passthrough: the host must have a free device of each requested vendor:device id. A guest that
/// holds a passed-through device is never live-migrated — the device state cannot be transferred.
/// </summary>
public sealed class PciPassthroughConstraint : IStaticConstraint, IDynamicConstraint
{
    public static readonly PciPassthroughConstraint Instance = new();
    public string Id => "pci-passthrough";

    public string? Check(in StaticInput x)
    {
        var g = x.Guest;
        if (!g.HasPassthrough) return null;
        if (x.Source is not null)
            return $"guest has passed-through device(s) {string.Join(", ", g.PciDevices)}; VFIO devices cannot be live-migrated";
        var devices = x.Host.PciDevices;
        var missing = g.PciDevices.Distinct().Where(id => !devices.Any(d => d.VendorDevice == id)).ToList();
        return missing.Count > 0 ? $"{StaticInput.HostToken} has no assignable device {string.Join(", ", missing)}" : null;
    }

    public bool AppliesTo(GuestDemand d) => d.Guest.HasPassthrough;

    public bool Admits(GuestDemand d, int h, PlacementState s)
    {
        if (s.PciFree[h] is not { } free) return false;
        foreach (var group in d.Guest.PciDevices.GroupBy(x => x))
            if (free.GetValueOrDefault(group.Key) < group.Count()) return false;
        return true;
    }

    public string Explain(GuestDemand d, int h, PlacementState s)
    {
        var free = s.PciFree[h];
        var parts = d.Guest.PciDevices.GroupBy(x => x)
            .Where(g => (free?.GetValueOrDefault(g.Key) ?? 0) < g.Count())
            .Select(g => $"{g.Count()} × {g.Key} wanted, {free?.GetValueOrDefault(g.Key) ?? 0} free");
        return $"host {s.Hosts[h].Name}: {string.Join(", ", parts)}";
    }
}
