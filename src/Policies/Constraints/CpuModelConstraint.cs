using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// A named CPU model must be usable on the host (QEMU would refuse -cpu MODEL,enforce otherwise) and every
/// +flag must be a host flag. A host-passthrough guest sees the host's own processor, so it can only
/// migrate to a host with the same vendor, model and flags. QEMU does not check this on migration, so we must.
/// </summary>
public sealed class CpuModelConstraint : IStaticConstraint
{
    public static readonly CpuModelConstraint Instance = new();
    public string Id => "cpu-model";

    public string? Check(in StaticInput x)
    {
        var cpu = x.Guest.Cpu;
        var host = x.Host.Cpu;
        if (cpu.Mode == CpuMode.HostPassthrough)
        {
            if (x.Source is null) return null;
            if (x.Source.Cpu.SameProcessorAs(host)) return null;
            var src = x.Source.Cpu;
            var missing = src.Flags.Except(host.Flags).ToList();
            var extra = host.Flags.Except(src.Flags).ToList();
            var detail = src.ModelName != host.ModelName || src.Vendor != host.Vendor
                ? $"source {StaticInput.SourceToken} is {src.Vendor} '{src.ModelName}', {StaticInput.HostToken} is {host.Vendor} '{host.ModelName}'"
                : $"flags differ (missing on {StaticInput.HostToken}: {List(missing)}; extra: {List(extra)})";
            return $"host-passthrough guest can only migrate to an identical processor: {detail}";
        }
        if (cpu.Model is { } model && !host.QemuModels.Contains(model))
            return $"CPU model {model} is not usable on {StaticInput.HostToken} (usable: {List(host.QemuModels)})";
        var absent = cpu.RequiredFlags.Where(f => !host.Flags.Contains(f)).ToList();
        if (absent.Count > 0)
            return $"guest CPU {cpu} needs flags {List(absent)} that {StaticInput.HostToken} lacks";
        return null;
    }

    internal static string List(IEnumerable<string> items)
    {
        var l = items.ToList();
        return l.Count == 0 ? "none" : l.Count <= 12 ? string.Join(", ", l) : string.Join(", ", l.Take(12)) + $", … ({l.Count} in all)";
    }
}
