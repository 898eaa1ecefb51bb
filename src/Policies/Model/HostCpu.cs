using System.Collections.Immutable;

namespace KvmCluster.Policies.Model;

/// <summary>
/// What /proc/cpuinfo and QEMU's query-cpu-definitions say about a host's processor.
/// <see cref="QemuModels"/> are the named -cpu models that start here without unavailable features.
/// </summary>
public sealed record HostCpu
{
    public required string Vendor { get; init; }
    public required string ModelName { get; init; }
    public ImmutableSortedSet<string> Flags { get; init; } = ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal);
    public ImmutableSortedSet<string> QemuModels { get; init; } = ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal);
    /// <summary>kvm_intel/kvm_amd "nested" module parameter.</summary>
    public bool NestedEnabled { get; init; }
    public int Sockets { get; init; } = 1;
    public int Cores { get; init; } = 1;
    /// <summary>Logical CPUs (hardware threads) the hypervisor can schedule vCPUs on.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Capacity of one hardware thread in MHz (CloudSim calls it MIPS); total capacity = Threads × this.</summary>
    public double MhzPerThread { get; init; } = 1000;

    public double CapacityMhz => Threads * MhzPerThread;
    public bool HasFlag(string flag) => Flags.Contains(flag);
    public bool HasHardwareVirtualisation => Flags.Contains("vmx") || Flags.Contains("svm");

    /// <summary>Same processor as far as a host-passthrough guest can tell: vendor, model and flags.</summary>
    public bool SameProcessorAs(HostCpu other) =>
        Vendor == other.Vendor && ModelName == other.ModelName && Flags.SetEquals(other.Flags);
}
