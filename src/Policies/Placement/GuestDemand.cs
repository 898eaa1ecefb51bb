using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Placement;

/// <summary>
/// What one guest takes from a host, computed once per placement so the per-host loop only compares numbers.
/// </summary>
public sealed class GuestDemand
{
    public Guest Guest { get; }
    public int VCpus { get; }
    public long GeneralMemoryMiB { get; }
    /// <summary>Index into <see cref="PlacementState.HugepageSizes"/>, or −1 for normal memory.</summary>
    public int HugepageSizeIndex { get; }
    public int HugepageCount { get; }
    /// <summary>CPU the guest used at its latest sample, in MHz (see <see cref="CpuMhzOn"/> for one never sampled).</summary>
    public double CpuMhz { get; }
    /// <summary>Its usage has been sampled at least once.</summary>
    public bool Measured { get; }
    public long LocalDiskGiB { get; }
    /// <summary>Index of the host the guest runs on now, or −1.</summary>
    public int CurrentHost { get; }
    /// <summary>Hosts already running a guest of the same name (a live list owned by the state).</summary>
    internal List<int> SameNameHosts { get; }
    /// <summary>The engine-specific id of the guest's static signature, cached once computed.</summary>
    internal int SignatureId = -1;
    internal object? SignatureOwner;

    internal GuestDemand(Guest guest, PlacementState state)
    {
        Guest = guest;
        VCpus = guest.VCpus;
        GeneralMemoryMiB = guest.GeneralMemoryMiB;
        HugepageSizeIndex = guest.HugepageSizeKiB is { } s ? state.HugepageSizeIndex(s) : -1;
        HugepageCount = guest.HugepageCount;
        CpuMhz = guest.Usage.LastCpuMhz;
        Measured = guest.Usage.Samples > 0;
        LocalDiskGiB = guest.Disks.Where(d => d.Kind == DiskKind.Local).Sum(d => d.SizeGiB)
                       + guest.Disks.Where(d => d.Kind == DiskKind.Overlay).Sum(d => d.SizeGiB);
        CurrentHost = guest.Host is { } h && state.TryGetHostIndex(h, out var i) ? i : -1;
        SameNameHosts = state.HostsRunning(guest.Name);
    }

    /// <summary>
    /// The CPU the guest is expected to use on <paramref name="host"/>: its latest sample; a guest never sampled yet (just
    /// placed, or arriving) counts as busy on all its vCPUs at that host's clock — what it asked for, as PABFD prices a
    /// new VM at its requested MIPS — until its first sample says otherwise.
    /// </summary>
    public double CpuMhzOn(int host, PlacementState state) => Measured ? CpuMhz : VCpus * state.MhzPerThread[host];
}
