using System.Collections.Immutable;
using KvmCluster.Policies.Model;

namespace KvmCluster.Sim.Synthetic;

/// <summary>
/// A seeded, realistic mixed fleet for benchmarks: five CPU generations (Intel and AMD), nested on or off,
/// three hugepage layouts, two zones and a few hosts with NX disabled in firmware — 60+ host classes.
/// Guests ask for named models (some host-passthrough), +vmx, hugepages of both sizes and anti-affinity.
/// </summary>
public static class SyntheticFleet
{
    private sealed record Generation(string Vendor, string Model, string[] Flags, string[] QemuModels, int Threads, int MhzPerThread, long MemoryGiB, double[] Watts);

    private static readonly Generation[] Generations =
    [
        new("GenuineIntel", "Intel(R) Xeon(R) CPU E5-2680 v3", ["lm", "nx", "vmx", "sse4_2", "avx2", "aes"], ["qemu64", "Nehalem", "Haswell"], 48, 2500, 256,
            [110, 140, 160, 180, 200, 220, 240, 260, 280, 300, 320]),
        new("GenuineIntel", "Intel(R) Xeon(R) Gold 6130", ["lm", "nx", "vmx", "sse4_2", "avx2", "aes", "avx512f", "pdpe1gb"], ["qemu64", "Nehalem", "Haswell", "Skylake-Server"], 64, 2100, 384,
            [120, 150, 170, 190, 210, 230, 250, 275, 300, 325, 350]),
        new("GenuineIntel", "Intel(R) Xeon(R) Gold 6230R", ["lm", "nx", "vmx", "sse4_2", "avx2", "aes", "avx512f", "avx512vnni", "pdpe1gb"], ["qemu64", "Nehalem", "Haswell", "Skylake-Server", "Cascadelake-Server"], 104, 2100, 512,
            [130, 165, 195, 225, 255, 285, 315, 345, 375, 405, 430]),
        new("AuthenticAMD", "AMD EPYC 7302", ["lm", "nx", "svm", "sse4_2", "avx2", "aes", "pdpe1gb"], ["qemu64", "Nehalem", "EPYC", "EPYC-Rome"], 64, 3000, 512,
            [100, 130, 150, 170, 190, 210, 230, 250, 270, 290, 310]),
        new("AuthenticAMD", "AMD EPYC 7763", ["lm", "nx", "svm", "sse4_2", "avx2", "aes", "pdpe1gb", "vaes"], ["qemu64", "Nehalem", "EPYC", "EPYC-Rome", "EPYC-Milan"], 256, 2450, 1024,
            [150, 200, 240, 280, 320, 360, 400, 440, 480, 520, 560]),
    ];

    public static ImmutableArray<Host> Hosts(int count, int seed)
    {
        var r = new Random(seed);
        var hosts = ImmutableArray.CreateBuilder<Host>(count);
        for (var i = 0; i < count; i++)
        {
            var gen = Generations[r.Next(Generations.Length)];
            var nested = r.Next(2) == 0;
            var layout = r.Next(3);
            var noNx = r.NextDouble() < 0.02;
            var memMiB = gen.MemoryGiB * 1024;
            var pools = layout switch
            {
                0 => ImmutableArray<HugepagePool>.Empty,
                1 => [new HugepagePool(HugepagePool.Size2M, (int)(memMiB / 4 / 2), (int)(memMiB / 4 / 2))],
                _ => [new HugepagePool(HugepagePool.Size2M, (int)(memMiB / 8 / 2), (int)(memMiB / 8 / 2)), new HugepagePool(HugepagePool.Size1G, 32, 32)],
            };
            var flags = gen.Flags.Where(f => !(noNx && f == "nx"));
            hosts.Add(new Host
            {
                Name = $"hv-{i:00000}",
                Cpu = new HostCpu
                {
                    Vendor = gen.Vendor,
                    ModelName = gen.Model,
                    Flags = flags.ToImmutableSortedSet(StringComparer.Ordinal),
                    QemuModels = gen.QemuModels.ToImmutableSortedSet(StringComparer.Ordinal),
                    NestedEnabled = nested,
                    Sockets = 2,
                    Cores = gen.Threads / 2,
                    Threads = gen.Threads,
                    MhzPerThread = gen.MhzPerThread,
                },
                MemoryMiB = memMiB,
                ReservedMemoryMiB = 8192,
                Hugepages = pools,
                Labels = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("zone", r.Next(2) == 0 ? "a" : "b")]),
                PowerModel = new PowerModel([.. gen.Watts]),
            });
        }
        return hosts.MoveToImmutable();
    }

    private static readonly string[] GuestModels = ["Haswell", "Haswell", "Haswell", "Skylake-Server", "Skylake-Server", "Cascadelake-Server", "EPYC-Rome", "EPYC", "qemu64", "Nehalem"];
    private static readonly int[] VcpuChoices = [1, 1, 2, 2, 2, 4, 4, 8, 16];
    private static readonly int[] MemoryChoicesGiB = [1, 2, 2, 4, 4, 8, 8, 16, 32];

    /// <summary>Unplaced guests, named g-000000…, drawn with the given seed.</summary>
    public static IEnumerable<Guest> Guests(int count, int seed)
    {
        var r = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var roll = r.NextDouble();
            var cpu = roll < 0.05
                ? GuestCpu.Host
                : roll < 0.08
                    ? new GuestCpu(CpuMode.Custom, "Haswell", [new CpuFlagChange("vmx", true)])
                    : new GuestCpu(CpuMode.Custom, GuestModels[r.Next(GuestModels.Length)], []);
            var memGiB = MemoryChoicesGiB[r.Next(MemoryChoicesGiB.Length)];
            var hp = r.NextDouble();
            int? size = hp < 0.15 ? HugepagePool.Size2M : hp < 0.17 ? HugepagePool.Size1G : null;
            var group = r.NextDouble() < 0.05 ? $"svc-{r.Next(2000)}" : null;
            yield return new Guest
            {
                Name = $"g-{i:000000}",
                VCpus = VcpuChoices[r.Next(VcpuChoices.Length)],
                MemoryMiB = memGiB * 1024L,
                Cpu = cpu,
                RequiresNx = r.NextDouble() < 0.95,
                HugepageSizeKiB = size,
                Labels = group is null ? ImmutableSortedDictionary<string, string>.Empty : ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("svc", group)]),
                Affinity = group is null ? [] : [new AffinityRule(AffinityScope.Guest, "svc", group, Anti: true, Hard: true)],
                Usage = new UsageHistory([r.Next(100, 2000) * 1.0], [], []),
            };
        }
    }
}
