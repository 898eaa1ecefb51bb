using System.Collections.Immutable;
using KvmCluster.Policies.Model;
using Host = KvmCluster.Policies.Model.Host;
using Microsoft.Extensions.Options;

namespace KvmCluster.Silo.Drivers;

/// <summary>Every simulated host as <see cref="SimulatedDriverOptions"/> describes it; guests busy at a constant fraction.</summary>
public sealed class ConfiguredWorld(IOptions<SimulatedDriverOptions> options) : ISimulatedWorld
{
    private SimulatedDriverOptions O => options.Value;

    public Host Facts(string host) => new()
    {
        Name = host,
        Cpu = new HostCpu
        {
            Vendor = "GenuineIntel",
            ModelName = "Simulated " + O.CpuModel,
            Flags = ImmutableSortedSet.Create(StringComparer.Ordinal, "lm", "nx", "vmx", "sse4_2", "avx2", "pdpe1gb"),
            QemuModels = ImmutableSortedSet.Create(StringComparer.Ordinal, "qemu64", "kvm64", O.CpuModel),
            Threads = O.Threads,
            Cores = O.Threads,
            MhzPerThread = O.MhzPerThread,
        },
        MemoryMiB = O.MemoryMiB,
    };

    public UsageHistory Usage(string host, Guest guest) =>
        new([guest.VCpus * O.MhzPerThread * O.GuestLoad], [guest.MemoryMiB * 0.8], [8.0]);
}
