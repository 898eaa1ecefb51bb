using System.Collections.Immutable;

namespace KvmCluster.Policies.Model;

/// <summary>One hypervisor as the scheduler sees it in a snapshot.</summary>
public sealed record Host
{
    public required string Name { get; init; }
    public required HostCpu Cpu { get; init; }
    public required long MemoryMiB { get; init; }
    public ImmutableArray<HugepagePool> Hugepages { get; init; } = [];
    public KsmState Ksm { get; init; } = KsmState.Off;
    public ThpState TransparentHugepages { get; init; } = ThpState.Unknown;
    public PowerState Power { get; init; } = PowerState.On;
    public bool Maintenance { get; init; }
    public ImmutableArray<PciDevice> PciDevices { get; init; } = [];
    public ImmutableArray<SriovFunction> Sriov { get; init; } = [];
    public HostStorage Storage { get; init; } = HostStorage.None;
    /// <summary>The named networks whose bridge this host has (sorted): a guest's NICs need every network they name.</summary>
    public ImmutableArray<string> Networks { get; init; } = [];
    /// <summary>The QEMU it runs guests with (null: not known, as on the simulated driver).</summary>
    public QemuCapabilities? Qemu { get; init; }
    public ImmutableSortedDictionary<string, string> Labels { get; init; } = ImmutableSortedDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);
    public PowerModel? PowerModel { get; init; }
    /// <summary>Memory kept for the host itself (kernel, QEMU overhead), not given to guests.</summary>
    public long ReservedMemoryMiB { get; init; }

    /// <summary>Memory guests can use outside hugepage pools: total − reserved − every pool's size.</summary>
    public long GeneralMemoryMiB => Math.Max(0, MemoryMiB - ReservedMemoryMiB - Hugepages.Sum(p => p.TotalMiB));

    public HugepagePool? Pool(int pageSizeKiB)
    {
        foreach (var p in Hugepages) if (p.PageSizeKiB == pageSizeKiB) return p;
        return null;
    }

    public bool AcceptsGuests => Power == PowerState.On && !Maintenance;
}
