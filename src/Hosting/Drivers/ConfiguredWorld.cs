using System.Collections.Concurrent;
using System.Collections.Immutable;
using KvmCluster.Policies.Model;
using Microsoft.Extensions.Options;
using Host = KvmCluster.Policies.Model.Host;

namespace KvmCluster.Hosting.Drivers;

/// <summary>
/// Every simulated host as <see cref="SimulatedDriverOptions"/> describes it; guests busy at a constant fraction, or
/// following a load script: a guest's n-th sample is the script's n-th value, so a scripted day plays out sample by
/// sample however fast the silo samples.
/// </summary>
public sealed class ConfiguredWorld(IOptions<SimulatedDriverOptions> options) : ISimulatedWorld
{
    private readonly ConcurrentDictionary<string, int> _samples = new(StringComparer.Ordinal);
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

    public UsageSample Sample(string host, Guest guest)
    {
        var n = _samples.AddOrUpdate(guest.Name, 0, (_, k) => k + 1);
        var script = O.Loads.FirstOrDefault(s => s.Names(guest.Name) && s.Cpu.Count > 0);
        var load = script is null ? O.GuestLoad : script.Cpu[Math.Min(n, script.Cpu.Count - 1)];
        return new UsageSample(guest.VCpus * O.MhzPerThread * load, guest.MemoryMiB * 0.8, script?.DirtyMiBps ?? 8.0);
    }
}
