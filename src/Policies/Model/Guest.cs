using System.Collections.Immutable;
using System.ComponentModel;

namespace KvmCluster.Policies.Model;

/// <summary>One guest (a QEMU process) as the scheduler sees it.</summary>
public sealed partial record Guest
{
    [System.Text.RegularExpressions.GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex MachineName();

    private readonly string _name = "";

    /// <summary>Validated against <see cref="GuestName.Pattern"/>: it reaches argv, paths and keys.</summary>
    [Description("The guest's name: [A-Za-z0-9][A-Za-z0-9._-]{0,63}. It reaches QEMU's argv, file paths and keys.")]
    public required string Name { get => _name; init => _name = GuestName.Validate(value); }
    [Description("SMBIOS UUID (all zeros: derived from the name).")]
    public Guid Uuid { get; init; }
    [Description("Virtual CPUs.")]
    public required int VCpus { get; init; }
    [Description("Memory in MiB.")]
    public required long MemoryMiB { get; init; }
    [Description("CPU model: host passthrough (the guest can only move to an identical host) or a named QEMU model with flag changes.")]
    public GuestCpu Cpu { get; init; } = GuestCpu.Named("qemu64");
    [Description("Needs 64-bit long mode (the host's lm flag).")]
    public bool Is64Bit { get; init; } = true;
    [Description("Needs the NX bit.")]
    public bool RequiresNx { get; init; } = true;
    /// <summary>Page size of the hugetlbfs backing in KiB, or null for normal memory. Such a guest cannot be ballooned.</summary>
    [Description("Back memory with hugepages of this size in KiB (2048, 1048576); such a guest cannot be ballooned.")]
    public int? HugepageSizeKiB { get; init; }
    [Description("Memory the balloon should leave the guest, in MiB.")]
    public long? BalloonTargetMiB { get; init; }
    /// <summary>Vendor:device ids of PCI devices passed through with VFIO; such guests never live-migrate.</summary>
    [Description("vendor:device ids of PCI devices passed through with VFIO; such a guest never live-migrates.")]
    public ImmutableArray<string> PciDevices { get; init; } = [];
    [Description("PCI addresses (0000:3b:00.0) of the devices and VFs its host assigned to it at launch; set by the cluster.")]
    public ImmutableArray<string> HostDevices { get; init; } = [];
    [Description("SR-IOV virtual functions the guest needs.")]
    public int SriovVfs { get; init; }
    /// <summary>Network the VFs must come from, or null for any.</summary>
    [Description("Network the VFs must come from (null: any).")]
    public string? SriovNetwork { get; init; }
    [Description("Disks: shared (the same export on every host), overlay on a backing image, or local.")]
    public ImmutableArray<GuestDisk> Disks { get; init; } = [];
    /// <summary>virtio-net interfaces.</summary>
    [Description("virtio-net interfaces on QEMU's user-mode network (NAT, for a single host and tests); production NICs are in `networks`.")]
    public int Nics { get; init; }
    [Description("NICs on named networks (a bridge on each host): every host the guest runs on must have each network.")]
    public ImmutableArray<GuestNic> Networks { get; init; } = [];
    /// <summary>Devices hot-plugged while it ran.</summary>
    [Description("Devices hot-plugged while it ran (kept in the spec so a migration's destination has them).")]
    public ImmutableArray<GuestDevice> Devices { get; init; } = [];
    /// <summary>Boot from a kernel image rather than a disk (null: the first disk).</summary>
    [Description("How it boots: from a kernel with its initramfs, or through the firmware in a boot order (null: the first disk).")]
    public GuestBoot? Boot { get; init; }
    [Description("Absolute path of an ISO image attached as a read-only CD-ROM (the same path on every host it may run on).")]
    public string? Cdrom { get; init; }
    /// <summary>Paused by an operator: the host sets it from QEMU's run state, so a migration's destination stays paused.</summary>
    [Description("Start paused (virsh start --paused); the cluster keeps it true while an operator has the guest paused, so a migration leaves it paused.")]
    public bool Paused { get; init; }
    [Description("The machine type QEMU runs it as: pinned at its first launch to the versioned name the host's QEMU resolves its default to (pc-q35-7.2 for q35), so it travels with the guest; a host whose QEMU lacks it cannot run it. Null: pinned at the first launch.")]
    public string? Machine { get; init; }
    [Description("Labels other guests' affinity rules match.")]
    public ImmutableSortedDictionary<string, string> Labels { get; init; } = ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);
    [Description("Affinity rules: run on or not on hosts with a label, with or apart from guests with a label; hard rules filter, soft ones weigh.")]
    public ImmutableArray<AffinityRule> Affinity { get; init; } = [];
    /// <summary>The host the guest runs on now, or null for a guest not yet placed.</summary>
    [Description("The host it runs on (set by the cluster; null for a guest not yet placed).")]
    public string? Host { get; init; }
    [Description("Usage history the host samples (CPU MHz, resident memory, dirty rate); set by the cluster.")]
    public UsageHistory Usage { get; init; } = UsageHistory.Empty;

    /// <summary>Pages of <see cref="HugepageSizeKiB"/> the guest's RAM needs.</summary>
    public int HugepageCount => HugepageSizeKiB is { } s ? (int)((MemoryMiB * 1024 + s - 1) / s) : 0;

    /// <summary>Memory taken from the host's general (non-hugepage) memory.</summary>
    public long GeneralMemoryMiB => HugepageSizeKiB is null ? MemoryMiB : 0;

    public bool HasPassthrough => !PciDevices.IsDefaultOrEmpty && PciDevices.Length > 0;

    /// <summary>Moving the guest copies some of its disks (local or overlay) to the destination.</summary>
    public bool CopiesDisksOnMigration => Disks.Any(d => d.IsCopiedOnMigration);

    /// <summary>Checks the combinations a field-by-field parser cannot see. Empty when consistent.</summary>
    /// <remarks>Fields are named as the API's JSON spells them (the YAML fleet reader maps its own spelling).</remarks>
    public IEnumerable<(string Field, string Message)> Problems()
    {
        if (VCpus is < 1 or > ModelLimits.MaxVCpus) yield return ("vCpus", $"must be 1..{ModelLimits.MaxVCpus}, got {VCpus}");
        if (MemoryMiB is < 1 or > ModelLimits.MaxMemoryMiB) yield return ("memoryMiB", $"must be 1..{ModelLimits.MaxMemoryMiB} (16 TiB), got {MemoryMiB}");
        var disks = Disks.IsDefault ? [] : Disks;
        if (disks.Length > ModelLimits.MaxDisks) yield return ("disks", $"at most {ModelLimits.MaxDisks} disks, got {disks.Length}");
        for (var i = 0; i < disks.Length && i < ModelLimits.MaxDisks; i++)
            foreach (var p in disks[i].Problems()) yield return ($"disks[{i}].{p.Field}", p.Message);
        if (!PciDevices.IsDefault && PciDevices.Length > ModelLimits.MaxPciDevices) yield return ("pciDevices", $"at most {ModelLimits.MaxPciDevices} devices, got {PciDevices.Length}");
        if (!PciDevices.IsDefault)
            foreach (var id in PciDevices)
                if (!PciIds.IsVendorDevice(id)) { yield return ("pciDevices", $"'{id}' is not a vendor:device id like 10de:1db6"); break; }
        if (!Devices.IsDefault && Devices.Length > ModelLimits.MaxDevices) yield return ("devices", $"at most {ModelLimits.MaxDevices} devices, got {Devices.Length}");
        if (Labels.Count > ModelLimits.MaxLabels) yield return ("labels", $"at most {ModelLimits.MaxLabels} labels, got {Labels.Count}");
        if (!Affinity.IsDefault && Affinity.Length > ModelLimits.MaxAffinityRules) yield return ("affinity", $"at most {ModelLimits.MaxAffinityRules} rules, got {Affinity.Length}");
        if (Cpu.Mode == CpuMode.Custom && string.IsNullOrWhiteSpace(Cpu.Model)) yield return ("cpu.model", "a custom CPU mode needs a model name");
        if (Cpu.Mode == CpuMode.HostPassthrough && Cpu.Flags.Length > 0) yield return ("cpu.flags", "flags cannot be changed in host-passthrough mode");
        if (HugepageSizeKiB is { } s)
        {
            if (s != HugepagePool.Size2M && s != HugepagePool.Size1G) yield return ("hugepageSizeKiB", $"page size {s} KiB is not 2 MiB or 1 GiB");
            else if (MemoryMiB <= ModelLimits.MaxMemoryMiB && MemoryMiB * 1024 % s != 0) yield return ("hugepageSizeKiB", $"memory {MemoryMiB} MiB is not a whole number of {HugepagePool.DescribeSize(s)} pages");
            if (BalloonTargetMiB is not null) yield return ("balloonTargetMiB", "a hugepage-backed guest cannot be ballooned");
        }
        if (BalloonTargetMiB is { } b && (b < 1 || b > MemoryMiB)) yield return ("balloonTargetMiB", $"must be between 1 and memoryMiB ({MemoryMiB}), got {b}");
        if (SriovVfs is < 0 or > ModelLimits.MaxSriovVfs) yield return ("sriovVfs", $"must be 0..{ModelLimits.MaxSriovVfs}, got {SriovVfs}");
        if (Nics is < 0 or > 8) yield return ("nics", $"must be 0..8, got {Nics}");
        var networks = Networks.IsDefault ? [] : Networks;
        if (networks.Length > 8) yield return ("networks", $"at most 8 NICs on networks, got {networks.Length}");
        for (var i = 0; i < networks.Length && i < 8; i++)
        {
            if (networks[i] is null) { yield return ($"networks[{i}]", "a NIC is a mapping {network, mac, model}"); continue; }
            foreach (var p in networks[i].Problems($"networks[{i}]")) yield return p;
        }
        var macs = networks.Where(n => n is not null).Select((n, i) => n.MacOf(Name, i)).ToList();
        if (macs.Distinct(StringComparer.Ordinal).Count() != macs.Count) yield return ("networks", "two NICs have the same MAC address");
        if (Boot is not null) foreach (var p in Boot.Problems()) yield return p;
        if (Cdrom is not null && GuestPath.Problem(Cdrom) is { } cd) yield return ("cdrom", cd);
        if (!HostDevices.IsDefault && HostDevices.FirstOrDefault(a => !PciIds.IsAddress(a)) is { } bad)
            yield return ("hostDevices", $"'{bad}' is not a PCI address like 0000:3b:00.0");
        if (Machine is not null && !MachineName().IsMatch(Machine)) yield return ("machine", $"'{Machine}' is not a machine type name like pc-q35-7.2");
        if (Cdrom is null && Boot?.Order?.Contains('d', StringComparison.Ordinal) == true) yield return ("boot.order", "boots from a CD-ROM (d) but the guest has none (cdrom)");
        if (!Is64Bit && Cpu.Mode == CpuMode.Custom && Cpu.RequiredFlags.Contains("lm")) yield return ("cpu.flags", "+lm contradicts a 32-bit guest");
    }
}
