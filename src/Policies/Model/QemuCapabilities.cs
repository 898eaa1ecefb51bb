using System.Collections.Immutable;

namespace KvmCluster.Policies.Model;

/// <summary>
/// The QEMU a host runs guests with: its version and the machine types it can run (versioned names such as
/// pc-q35-7.2, and the aliases q35 and pc). A guest's pinned machine type must be among them, and a guest migrates only
/// to a QEMU at least as new as its source's (the handbook: keep the two hosts' software alike).
/// </summary>
public sealed record QemuCapabilities(string Version, ImmutableArray<string> MachineTypes)
{
    /// <summary>The version as numbers (7.2.22), or null when it is not one.</summary>
    public Version? Parsed => System.Version.TryParse(Version, out var v) ? v : null;

    public bool Runs(string machine) => !MachineTypes.IsDefault && MachineTypes.Contains(machine);
}
