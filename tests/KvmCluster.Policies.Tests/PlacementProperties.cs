using System.Collections.Immutable;
using CsCheck;
using KvmCluster.Policies.Model;
using KvmCluster.Policies.Placement;
using PolicyT = KvmCluster.Policies.Rules.Policy;

namespace KvmCluster.Policies.Tests;

/// <summary>
/// Over random fleets and guest streams: no placement ever breaks a hard constraint, and what is
/// reserved never exceeds what a host has. Checked by an oracle written independently of the engine.
/// </summary>
public class PlacementProperties
{
    private static readonly string[] Models = ["qemu64", "Nehalem", "Haswell", "Skylake-Server", "EPYC"];
    private static readonly string[] Flags = ["lm", "nx", "vmx", "svm", "avx2", "avx512f", "pdpe1gb"];

    private static Host RandomHost(Random r, int i)
    {
        var flags = Flags.Where(_ => r.NextDouble() < 0.7).ToImmutableSortedSet(StringComparer.Ordinal);
        var models = Models.Where(_ => r.NextDouble() < 0.6).ToImmutableSortedSet(StringComparer.Ordinal);
        var pools = ImmutableArray.CreateBuilder<HugepagePool>();
        if (r.NextDouble() < 0.5) { var t = r.Next(0, 600); pools.Add(new HugepagePool(HugepagePool.Size2M, t, r.Next(0, t + 1), r.Next(0, 20))); }
        if (r.NextDouble() < 0.2) { var t = r.Next(0, 4); pools.Add(new HugepagePool(HugepagePool.Size1G, t, r.Next(0, t + 1))); }
        return new Host
        {
            Name = $"hv-{i:000}",
            Cpu = new HostCpu { Vendor = "GenuineIntel", ModelName = $"m{r.Next(3)}", Flags = flags, QemuModels = models, NestedEnabled = r.NextDouble() < 0.5, Threads = r.Next(1, 17), MhzPerThread = 2000 },
            MemoryMiB = 8192 + r.Next(0, 8) * 4096,
            Hugepages = pools.ToImmutable(),
            Maintenance = r.NextDouble() < 0.1,
            Power = r.NextDouble() < 0.1 ? PowerState.Standby : PowerState.On,
            PciDevices = r.NextDouble() < 0.2 ? [new PciDevice("0000:3b:00.0", "10de:1db6")] : [],
            Labels = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("rack", $"r{r.Next(3)}")]),
        };
    }

    private static Guest RandomGuest(Random r, int i)
    {
        var named = r.NextDouble() < 0.85;
        var cpu = named
            ? new GuestCpu(CpuMode.Custom, Models[r.Next(Models.Length)], [.. Flags.Where(_ => r.NextDouble() < 0.15).Select(f => new CpuFlagChange(f, true))])
            : GuestCpu.Host;
        var memory = 256L * r.Next(1, 17);
        var hp = r.NextDouble() < 0.2 ? (int?)HugepagePool.Size2M : null;
        var rules = ImmutableArray.CreateBuilder<AffinityRule>();
        if (r.NextDouble() < 0.2) rules.Add(new AffinityRule(AffinityScope.Guest, "app", $"a{r.Next(3)}", Anti: true, Hard: true));
        if (r.NextDouble() < 0.1) rules.Add(new AffinityRule(AffinityScope.Host, "rack", $"r{r.Next(3)}", Anti: r.NextDouble() < 0.5, Hard: true));
        return new Guest
        {
            Name = $"g{i % 40}",  // names repeat, so name clashes happen
            VCpus = r.Next(1, 9),
            MemoryMiB = memory,
            Cpu = cpu,
            Is64Bit = r.NextDouble() < 0.9,
            RequiresNx = r.NextDouble() < 0.8,
            HugepageSizeKiB = hp,
            PciDevices = r.NextDouble() < 0.05 ? ["10de:1db6"] : [],
            Labels = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("app", $"a{r.Next(3)}")]),
            Affinity = rules.ToImmutable(),
        };
    }

    [Fact]
    public void No_placement_violates_a_hard_constraint_and_reservations_stay_within_capacity()
    {
        Gen.Select(Gen.Int[1, 40], Gen.Int[1, 150], Gen.Int, Gen.Double[0.5, 4])
            .Sample((hostCount, guestCount, seed, cpuRatio) =>
            {
                var r = new Random(seed);
                var hosts = Enumerable.Range(0, hostCount).Select(i => RandomHost(r, i)).ToList();
                var policy = PolicyT.Default with { Overcommit = new(cpuRatio, 1.0) };
                var engine = new PlacementEngine(new FleetSnapshot(hosts, []), policy);
                var byName = hosts.ToDictionary(h => h.Name);
                var vcpus = new Dictionary<string, int>();
                var memory = new Dictionary<string, long>();
                var pages = new Dictionary<string, int>();
                var gpus = new Dictionary<string, int>();
                var names = new HashSet<(string, string)>();
                var labels = new List<(string Host, string App)>();
                var t0 = DateTimeOffset.UnixEpoch;

                for (var i = 0; i < guestCount; i++)
                {
                    var g = RandomGuest(r, i);
                    var (result, _) = engine.PlaceAndReserve(g, t0, TimeSpan.FromHours(1), PlaceOptions.Fast);
                    if (result.Host is not { } hn) continue;
                    var h = byName[hn];
                    // Oracle: every mandatory constraint, re-derived from the records.
                    Assert.True(h.AcceptsGuests, $"{g.Name} on {hn}: host not accepting guests");
                    if (g.Cpu.Mode == CpuMode.Custom)
                    {
                        Assert.Contains(g.Cpu.Model!, h.Cpu.QemuModels);
                        Assert.All(g.Cpu.RequiredFlags, f => Assert.Contains(f, h.Cpu.Flags));
                    }
                    if (g.RequiresNx) Assert.Contains("nx", h.Cpu.Flags);
                    if (g.Is64Bit) Assert.Contains("lm", h.Cpu.Flags);
                    if (g.Cpu.WantsNested) Assert.True(h.Cpu.NestedEnabled && h.Cpu.HasHardwareVirtualisation);
                    Assert.True(names.Add((hn, g.Name)), $"name clash: {g.Name} twice on {hn}");
                    foreach (var rule in g.Affinity.Where(a => a.Hard))
                    {
                        if (rule.Scope == AffinityScope.Host)
                            Assert.Equal(!rule.Anti, h.Labels.GetValueOrDefault(rule.Key) == rule.Value);
                        else if (rule.Anti)
                            Assert.DoesNotContain((hn, rule.Value), labels);
                    }
                    labels.Add((hn, g.Labels["app"]));
                    vcpus[hn] = vcpus.GetValueOrDefault(hn) + g.VCpus;
                    memory[hn] = memory.GetValueOrDefault(hn) + g.GeneralMemoryMiB;
                    if (g.HugepageSizeKiB is { } size)
                    {
                        var key = hn + "/" + size;
                        pages[key] = pages.GetValueOrDefault(key) + g.HugepageCount;
                        Assert.True(pages[key] <= h.Pool(size)!.Available, $"hugepages over-booked on {key}");
                    }
                    if (g.HasPassthrough)
                    {
                        gpus[hn] = gpus.GetValueOrDefault(hn) + 1;
                        Assert.True(gpus[hn] <= h.PciDevices.Count(d => d.IsFree), $"GPU over-booked on {hn}");
                    }
                    Assert.True(vcpus[hn] <= h.Cpu.Threads * cpuRatio + 1e-9, $"vCPUs over-booked on {hn}");
                    Assert.True(memory[hn] <= h.GeneralMemoryMiB, $"memory over-booked on {hn}");
                }
            }, iter: 150);
    }

    [Fact]
    public void Placement_order_of_hosts_in_the_snapshot_does_not_change_the_answer()
    {
        Gen.Select(Gen.Int[2, 30], Gen.Int).Sample((hostCount, seed) =>
        {
            var r = new Random(seed);
            var hosts = Enumerable.Range(0, hostCount).Select(i => RandomHost(r, i)).ToList();
            var guests = Enumerable.Range(0, 30).Select(i => RandomGuest(r, i) with { Name = $"g{i}" }).ToList();
            string Run(IEnumerable<Host> hs)
            {
                var e = new PlacementEngine(new FleetSnapshot(hs, []), PolicyT.Default);
                return string.Join(",", guests.Select(g => e.PlaceAndReserve(g, DateTimeOffset.UnixEpoch, TimeSpan.FromHours(1), PlaceOptions.Fast).Result.Host));
            }
            var shuffled = hosts.OrderBy(_ => r.Next()).ToList();
            Assert.Equal(Run(hosts), Run(shuffled));
        }, iter: 50);
    }

    [Fact]
    public void Explained_and_fast_placement_agree()
    {
        Gen.Select(Gen.Int[1, 30], Gen.Int).Sample((hostCount, seed) =>
        {
            var r = new Random(seed);
            var hosts = Enumerable.Range(0, hostCount).Select(i => RandomHost(r, i)).ToList();
            var e = new PlacementEngine(new FleetSnapshot(hosts, []), PolicyT.Default);
            for (var i = 0; i < 40; i++)
            {
                var g = RandomGuest(r, i);
                var slow = e.Place(g, PlaceOptions.Explained);
                var fast = e.Place(g, PlaceOptions.Fast);
                Assert.Equal(slow.Host, fast.Host);
                Assert.Equal(hostCount, slow.Feasible + slow.Rejected.Count);
                Assert.All(slow.Rejected, x => Assert.NotEmpty(x.Reasons));
                if (slow.Host is { } h) e.Reserve(g, h, DateTimeOffset.UnixEpoch, TimeSpan.FromHours(1));
            }
        }, iter: 60);
    }
}
