using System.Collections.Immutable;
using KvmCluster.Policies.Model;

namespace KvmCluster.Policies.Tests;

/// <summary>Small, readable fleets for tests.</summary>
internal static class Build
{
    public static ImmutableSortedSet<string> Set(params string[] items) => items.ToImmutableSortedSet(StringComparer.Ordinal);

    public static HostCpu SkylakeCpu => new()
    {
        Vendor = "GenuineIntel",
        ModelName = "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
        Flags = Set("lm", "nx", "vmx", "pdpe1gb", "sse4_2", "avx2", "avx512f"),
        QemuModels = Set("qemu64", "Haswell", "Skylake-Server"),
        NestedEnabled = true,
        Sockets = 1,
        Cores = 8,
        Threads = 16,
        MhzPerThread = 2100,
    };

    public static HostCpu HaswellCpu => new()
    {
        Vendor = "GenuineIntel",
        ModelName = "Intel(R) Xeon(R) CPU E5-2680 v3 @ 2.50GHz",
        Flags = Set("lm", "nx", "vmx", "sse4_2", "avx2"),
        QemuModels = Set("qemu64", "Haswell"),
        NestedEnabled = false,
        Sockets = 1,
        Cores = 8,
        Threads = 16,
        MhzPerThread = 2500,
    };

    public static Host Host(string name, HostCpu? cpu = null, long memoryMiB = 65536) => new()
    {
        Name = name,
        Cpu = cpu ?? SkylakeCpu,
        MemoryMiB = memoryMiB,
    };

    public static Guest Guest(string name, int vcpus = 2, long memoryMiB = 2048, string? host = null) => new()
    {
        Name = name,
        VCpus = vcpus,
        MemoryMiB = memoryMiB,
        Cpu = GuestCpu.Named("qemu64"),
        Host = host,
    };

    public static FleetSnapshot Fleet(IEnumerable<Host> hosts, IEnumerable<Guest>? guests = null) => new(hosts, guests ?? []);
}
