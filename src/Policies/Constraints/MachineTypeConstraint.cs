using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Constraints;

/// <summary>
/// A guest runs as the machine type pinned at its first launch (pc-q35-7.2, not the moving alias q35): a host whose
/// QEMU cannot run that type cannot run it, and a running guest migrates only to a QEMU at least as new as its source's
/// — an older one may not load the migration stream (the handbook's advice: keep both hosts' software alike). Hosts
/// whose QEMU is unknown (the simulated driver) are not judged.
/// </summary>
public sealed class MachineTypeConstraint : IStaticConstraint
{
    public static readonly MachineTypeConstraint Instance = new();
    public string Id => "machine-type";

    public string? Check(in StaticInput x)
    {
        if (x.Host.Qemu is not { } qemu) return null;
        var problems = new List<string>();
        if (x.Guest.Machine is { } machine && !qemu.Runs(machine))
            problems.Add($"{StaticInput.HostToken}'s QEMU {qemu.Version} has no machine type {machine}");
        if (x.Source?.Qemu is { Parsed: { } from } source && qemu.Parsed is { } to && to < from)
            problems.Add($"{StaticInput.HostToken} runs QEMU {qemu.Version}, older than {StaticInput.SourceToken}'s {source.Version} (keep the hosts' QEMU alike)");
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }
}
