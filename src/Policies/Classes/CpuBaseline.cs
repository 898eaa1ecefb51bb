using System.Collections.Immutable;
using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Classes;

/// <summary>
/// The EVC-like baseline of a group of hosts: the QEMU CPU models usable on every one of them and the
/// flags they all share. A guest defined with a baseline model (and only baseline +flags) can run on, and
/// live-migrate between, all hosts of the group — what VMware EVC and libvirt's
/// hypervisor-cpu-baseline --migratable provide.
/// </summary>
public sealed record CpuBaseline(ImmutableSortedSet<string> Models, ImmutableSortedSet<string> Flags, string? Vendor, int Hosts)
{
    public static CpuBaseline Of(IEnumerable<Host> hosts)
    {
        ImmutableSortedSet<string>? models = null, flags = null;
        string? vendor = null;
        var mixedVendor = false;
        var count = 0;
        foreach (var h in hosts)
        {
            count++;
            models = models is null ? h.Cpu.QemuModels : models.Intersect(h.Cpu.QemuModels);
            flags = flags is null ? h.Cpu.Flags : flags.Intersect(h.Cpu.Flags);
            if (vendor is null && !mixedVendor) vendor = h.Cpu.Vendor;
            else if (vendor != h.Cpu.Vendor) { vendor = null; mixedVendor = true; }
        }
        var empty = ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal);
        return new CpuBaseline(models ?? empty, flags ?? empty, vendor, count);
    }

    /// <summary>True when the guest's CPU definition only asks for what every host of the group offers.</summary>
    public bool Admits(GuestCpu cpu) =>
        cpu.Mode == CpuMode.Custom && cpu.Model is { } m && Models.Contains(m) && cpu.RequiredFlags.All(Flags.Contains);

    /// <summary>Why a guest CPU definition falls outside the baseline, or null when it fits.</summary>
    public string? Problem(GuestCpu cpu)
    {
        if (cpu.Mode == CpuMode.HostPassthrough)
            return "host-passthrough guests are tied to one processor; use a baseline model to migrate across the group";
        if (cpu.Model is { } m && !Models.Contains(m))
            return $"model {m} is not usable on every host (baseline models: {string.Join(", ", Models)})";
        var missing = cpu.RequiredFlags.Where(f => !Flags.Contains(f)).ToList();
        return missing.Count > 0 ? $"flag(s) {string.Join(", ", missing)} are not present on every host" : null;
    }
}
